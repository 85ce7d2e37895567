from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from devicelab.model.traffic import Flow, Request
from devicelab.cli.diff import diff
from devicelab.reports.collect import handset_result
from devicelab.reports.diff import Pair, diff_runs, new_pairs, to_dict, to_text
from devicelab.reports.diff_html import to_html
from devicelab.reports.model import ConsentChoice, RunRecord
from devicelab.reports.verdict_json import to_json
from tests.reports import helpers as h

LEAKY = "nokia7plus-00WW_3_22C"
FIXED = "nokia7plus-00WW_3_22C_SP05"
ZZHC_KINDS = {"imei", "meid", "iccid", "imsi", "cell_id", "wifi_mac"}


def _nokia(flows: list[Flow]) -> RunRecord:
    report = h.scan_flows(flows, h.ah.identity(), h.global_policy())
    return h.run_record([handset_result(h.nokia_handset(), report, h.redactor())], run_id=f"run-{len(flows)}",
                        build=LEAKY if len(flows) > 1 else FIXED)


def _plain_checkin() -> Flow:
    flow = h.checkin_flow(0)
    request = Request(method="POST", scheme="http", host=flow.request.host, port=80, path="/checkin",
                      headers=flow.request.headers, content=flow.request.content)
    return Flow(source="live", index=0, id="plain", request=request, tls=False, app=flow.app)


@pytest.fixture(scope="module")
def leaky() -> RunRecord:
    return _nokia(h.nokia_flows())


@pytest.fixture(scope="module")
def fixed() -> RunRecord:
    return _nokia([h.checkin_flow(0)])


def test_the_fixed_build_drops_the_zzhc_flows(leaky: RunRecord, fixed: RunRecord) -> None:
    result = diff_runs(leaky, fixed)
    assert {p.kind for p in result.pairs_removed} == ZZHC_KINDS
    assert {p.host for p in result.pairs_removed} == {"zzhc.vnet.cn"}
    assert result.hosts_removed == ("zzhc.vnet.cn",)
    assert not result.hosts_added
    assert not result.pairs_added
    assert result.exit_code == 0
    assert new_pairs(leaky, fixed) == []


def test_the_leaky_build_adds_new_pairs_and_fails(leaky: RunRecord, fixed: RunRecord) -> None:
    result = diff_runs(fixed, leaky)
    assert result.exit_code == 1
    assert set(new_pairs(fixed, leaky)) == {Pair("zzhc.vnet.cn", kind) for kind in ZZHC_KINDS}
    detail = result.details[Pair("zzhc.vnet.cn", "iccid")]
    assert detail.apps == {"com.evenwell.autoregistration"}
    assert detail.transports == {False}
    assert detail.flows == 1
    text = to_text(result)
    assert "NEW personal data flows: 6" in text
    assert "+ zzhc.vnet.cn  iccid  [plain; com.evenwell" in text
    assert "+ zzhc.vnet.cn" in text.split("new hosts:")[1]


def test_a_host_that_drops_tls_is_a_downgrade(fixed: RunRecord) -> None:
    plain = _nokia([_plain_checkin()])
    result = diff_runs(fixed, plain)
    [change] = result.transport_changes
    assert (change.host, change.before, change.after, change.direction) == (
        "android.clients.google.com", "tls", "plain", "downgrade")
    assert result.exit_code == 0  # the same pairs: the policy's plain-text rule is what fails this run
    assert "! android.clients.google.com: TLS → plain" in to_text(result)
    assert diff_runs(plain, fixed).transport_changes[0].direction == "upgrade"


def test_same_run_is_unchanged(leaky: RunRecord) -> None:
    result = diff_runs(leaky, leaky)
    assert result.unchanged
    assert result.exit_code == 0
    assert to_text(result).endswith("no change: the same hosts received the same kinds of personal data")


def test_json_and_html_renderings(leaky: RunRecord, fixed: RunRecord) -> None:
    data = to_dict(diff_runs(fixed, leaky))
    assert data["exit_code"] == 1
    assert data["baseline"]["build"] == FIXED
    assert {p["kind"] for p in data["pairs_added"]} == ZZHC_KINDS
    assert data["pairs_added"][0]["transport"] == "plain"
    page = to_html(diff_runs(fixed, leaky))
    assert "NEW DATA FLOWS" in page
    assert "zzhc.vnet.cn" in page
    assert "<script" not in page


def _write(tmp_path: Path, name: str, run: RunRecord) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "verdict.json").write_text(to_json(run))
    return folder


def test_cli_exit_codes_and_formats(tmp_path: Path, leaky: RunRecord, fixed: RunRecord) -> None:
    a, b = _write(tmp_path, "a", fixed), _write(tmp_path, "b", leaky)
    runner = CliRunner()
    result = runner.invoke(diff, [str(a), str(b)])
    assert result.exit_code == 1
    assert "NEW personal data flows: 6" in result.stdout
    result = runner.invoke(diff, [str(b / "verdict.json"), str(a), "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["hosts_removed"] == ["zzhc.vnet.cn"]
    page = tmp_path / "diff.html"
    result = runner.invoke(diff, [str(a), str(b), "--format", "html", "-o", str(page)])
    assert result.exit_code == 1
    assert page.read_text().startswith("<!doctype html>")


def test_cli_bad_input_exits_3(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(diff, [str(tmp_path), str(tmp_path)])
    assert result.exit_code == 3
    assert "bad input" in result.stderr
    assert "Traceback" not in result.output
    assert runner.invoke(diff, [str(tmp_path)]).exit_code == 3
    assert runner.invoke(diff, [str(tmp_path), str(tmp_path), "--format", "pdf"]).exit_code == 3


def test_runs_judged_differently_say_so_before_anything_else(leaky: RunRecord, fixed: RunRecord) -> None:
    other = fixed.model_copy(update={
        "policy": fixed.policy.model_copy(update={"name": "eu", "sha256": "b" * 64}),
        "consent": (ConsentChoice(name="virtual-0: usage_stats", choice="accepted"),),
    })
    result = diff_runs(leaky, other)
    assert result.caveats[0].startswith("different policies: global")
    assert result.caveats[1].startswith("different consent choices in the setup wizard: ")
    assert "usage_stats -→accepted" in result.caveats[1]
    text = to_text(result)
    assert text.splitlines()[3].startswith("caution: different policies")
    assert to_dict(result)["caveats"] == list(result.caveats)
    assert diff_runs(leaky, leaky).caveats == ()
