from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mitmproxy import io as mitmio
from mitmproxy.test import tflow

from devicelab.cli.scan import scan
from devicelab.reports.verdict_json import from_dict
from tests.analysis import helpers as h
from tests.analysis.test_zzhc import zzhc_flow

FIRST_RUN = str(h.DATA / "reporthar_android_first-run.har")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(scan, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def aaid_identity(tmp_path: Path) -> str:
    path = tmp_path / "aaid.yaml"
    path.write_text(f"advertising_id: {h.AAID}\n")
    return str(path)


@pytest.fixture
def zzhc_capture(tmp_path: Path) -> str:
    """The constructed zzhc request as a mitmproxy flow file, as the live capture would save it."""
    flow = zzhc_flow()
    mflow = tflow.tflow()
    mflow.request.scheme, mflow.request.host, mflow.request.port = "http", "zzhc.vnet.cn", 80
    mflow.request.method, mflow.request.path = "POST", "/"
    mflow.request.headers.clear()
    mflow.request.headers["Content-Type"] = "application/encrypted-json"
    mflow.request.content = flow.request.content
    mflow.client_conn.timestamp_tls_setup = None
    mflow.client_conn.sni = None  # plain HTTP: no TLS server name, and the proxy dialled the URL's host
    mflow.server_conn.address = ("zzhc.vnet.cn", 80)
    path = tmp_path / "zzhc.mitm"
    with path.open("wb") as fo:
        mitmio.FlowWriter(fo).add(mflow)
    return str(path)


def test_json_report_of_a_real_capture(aaid_identity: str) -> None:
    code, out, _ = _run(FIRST_RUN, "--identity", aaid_identity, "--policy", str(h.GLOBAL_POLICY), "--format", "json")
    assert code == 1
    run = json.loads(out)  # the gate's verdict.json, with the saved captures as its one handset
    assert (run["record"], run["outcome"], run["exit_code"]) == ("devicelab-run", "fail", 1)
    report = run["handsets"][0]
    assert sorted({f["flow_index"] for f in report["findings"]}) == [5, 7, 8, 9, 11, 12, 14]
    finding = report["findings"][0]
    assert {"kind", "host", "url", "location", "decoders"} <= finding.keys()
    assert (finding["kind"], finding["location"], finding["decoders"]) == (
        "advertising_id", "url > query:advertiser_id", ["query"])
    assert h.AAID not in out  # identifiers are redacted in reports
    assert report["violations"][0]["rule"].startswith("unapproved-host")
    assert report["coverage"]["flows_scanned"] == 16
    assert report["coverage"]["gaps"] == []
    assert from_dict(run, "scan output").outcome == "fail"  # the diff and the reports read it back


def test_text_report_is_a_table(zzhc_capture: str) -> None:
    code, out, _ = _run(zzhc_capture, "--identity", str(h.IDENTITY_FILE), "--policy", str(h.GLOBAL_POLICY))
    assert code == 1
    assert out.startswith("verdict: FAIL")
    header = next(line for line in out.splitlines() if line.startswith("HOST"))
    assert header.split() == ["HOST", "KIND", "WHERE", "DECODERS", "APP", "FLOW"]
    assert any("zzhc.vnet.cn" in line and "iccid" in line and "base64 > json" in line for line in out.splitlines())


def test_several_captures_name_each_flow_with_its_capture(aaid_identity: str) -> None:
    # the two captures both have a flow 5: a row must say whose it is
    second = str(h.DATA / "reporthar_android_second-run.har")
    code, out, _ = _run(FIRST_RUN, second, "--identity", aaid_identity, "--policy", str(h.GLOBAL_POLICY))
    assert code == 1
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("capture")] == ["capture 1", "capture 2"]
    flows = {line.split()[-1] for line in lines if line.startswith(("graph.facebook.com", "api2.branch.io"))}
    assert {"1:5", "2:4"} <= flows
    assert all(flow.split(":")[0] in ("1", "2") for flow in flows)
    _code, one, _ = _run(FIRST_RUN, "--identity", aaid_identity, "--policy", str(h.GLOBAL_POLICY))
    assert "capture: " in one  # one capture: its flows by number alone
    assert "1:5" not in one


def test_scan_names_the_kinds_the_identity_lacks(aaid_identity: str) -> None:
    # audit: a scan with an identity of one advertising ID said pass without saying what it never looked for
    code, out, _ = _run(FIRST_RUN, "--identity", aaid_identity, "--policy", str(h.GLOBAL_POLICY))
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("not searched (the identity has none):"))
    named = line.split(":", 1)[1].replace(" ", "").split(",")
    assert "advertising_id" not in named
    assert {"imei", "imsi", "iccid", "wifi_mac", "android_id", "location"} <= set(named)
    code, out, _ = _run(FIRST_RUN, "--identity", aaid_identity, "--policy", str(h.GLOBAL_POLICY), "--format", "json")
    assert "imei" in json.loads(out)["handsets"][0]["coverage"]["missing_kinds"]


def test_exit_codes_pass_and_inconclusive(zzhc_capture: str, tmp_path: Path) -> None:
    assert _run(zzhc_capture, "--identity", str(h.IDENTITY_FILE), "--policy", str(h.CHINA_POLICY))[0] == 0
    data = Path(zzhc_capture).read_bytes()
    torn = tmp_path / "torn.mitm"
    torn.write_bytes(data + data[: len(data) // 2])  # a second record cut by a crash
    code, out, _ = _run(str(torn), "--identity", str(h.IDENTITY_FILE), "--policy", str(h.CHINA_POLICY),
                        "--format", "json")
    assert code == 2
    assert json.loads(out)["handsets"][0]["coverage"]["gaps"][0]["kind"] == "capture_incomplete"


@pytest.mark.parametrize(("args", "message"), [
    (["--identity", "{bad_identity}"], "{bad_identity}: imei.0: "),
    (["--identity", "{aaid}", "--policy", "{bad_policy}"], "{bad_policy}: approved.0.may_receive.0: "),
    (["--identity", "{aaid}", "--policy", "{missing}"], "{missing}: file not found"),
    (["--identity", "{empty}"], "lists no identifier"),
])
def test_bad_input_is_one_clear_message(tmp_path: Path, aaid_identity: str, args: list[str], message: str) -> None:
    files = {"bad_identity": tmp_path / "id.yaml", "bad_policy": tmp_path / "p.yaml", "missing": tmp_path / "nope.yaml",
             "empty": tmp_path / "empty.yaml", "aaid": Path(aaid_identity)}
    files["bad_identity"].write_text("imei: ['12']\n")
    files["bad_policy"].write_text("name: p\napproved: [{host: x.example, may_receive: [imei_number]}]\n")
    files["empty"].write_text("operator: '24201'\n")
    names = {k: str(v) for k, v in files.items()}
    code, out, err = _run(FIRST_RUN, *[a.format(**names) for a in args])
    assert code == 3
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("devicelab scan: bad input: ")
    assert message.format(**names) in err


def test_usage_errors_exit_3(aaid_identity: str, tmp_path: Path) -> None:
    assert _run(FIRST_RUN)[0] == 3  # --identity missing
    assert _run(FIRST_RUN, "--identity", aaid_identity, "--format", "xml")[0] == 3
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01 not a capture")
    code, _, err = _run(str(garbage), "--identity", aaid_identity)
    assert code == 3
    assert str(garbage) in err
