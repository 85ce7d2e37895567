from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devicelab.analysis.findings import Finding
from devicelab.analysis.verdict import evaluate
from devicelab.errors import ConfigError
from devicelab.model.policy import STRICT, host_matches, load_policy
from devicelab.model.traffic import CoverageGap
from tests.analysis import helpers as h

if TYPE_CHECKING:
    from devicelab.analysis.scan import ScanReport
from tests.analysis.helpers import make_flow

GLOBAL = load_policy(h.GLOBAL_POLICY)
CHINA = load_policy(h.CHINA_POLICY)


def _finding(kind: str, host: str, tls: bool = True, index: int = 0) -> Finding:
    return Finding(kind=kind, identifier="x", host=host, url=f"https://{host}/", where=("body",), decoders=(),
                   variant="as-is", tls=tls, source="test", flow_index=index, flow_id=f"f{index}")


def test_host_globs() -> None:
    assert host_matches("*.google.com", "android.clients.google.com")
    assert host_matches("*.google.com", "Android.Clients.Google.COM.")
    assert not host_matches("*.google.com", "google.com")
    assert not host_matches("*.google.com", "evilgoogle.com")
    assert host_matches("zzhc.vnet.cn", "zzhc.vnet.cn:9999")


@pytest.mark.parametrize(("policy", "kind", "host", "tls", "rules"), [
    (GLOBAL, "imei", "android.clients.google.com", True, []),
    (GLOBAL, "imei", "android.clients.google.com", False, ["plain-text"]),
    (GLOBAL, "imsi", "android.clients.google.com", True, ["kind-not-approved"]),
    (GLOBAL, "advertising_id", "graph.facebook.com", True, ["unapproved-host"]),
    (GLOBAL, "imei", "activation.hmdglobal.com", True, []),
    (GLOBAL, "iccid", "zzhc.vnet.cn", False, ["forbidden-host", "plain-text"]),
    (CHINA, "iccid", "zzhc.vnet.cn", False, []),
    (CHINA, "serial", "zzhc.vnet.cn", False, ["kind-not-approved", "plain-text"]),
    (CHINA, "imei", "android.clients.google.com", True, ["unapproved-host"]),
    (STRICT, "imei", "android.clients.google.com", True, ["unapproved-host"]),
])
def test_judge(policy: object, kind: str, host: str, tls: bool, rules: list[str]) -> None:
    broken = policy.judge(kind, host, tls)  # type: ignore[attr-defined]
    assert [rule.split(":")[0] for rule in broken] == rules


def test_verdict_pass_fail_inconclusive() -> None:
    ok = [_finding("imei", "android.clients.google.com")]
    assert evaluate(ok, [], [], GLOBAL).outcome == "pass"
    stopped = CoverageGap("capture_incomplete", "torn at byte 812")
    assert evaluate(ok, [], [stopped], GLOBAL).outcome == "inconclusive"
    bad = [*ok, _finding("imei", "tracker.example")]
    verdict = evaluate(bad, [], [stopped], GLOBAL)
    assert verdict.outcome == "fail"
    assert verdict.exit_code == 1
    assert [v.finding.host for v in verdict.violations if v.finding] == ["tracker.example"]


@pytest.mark.parametrize("kind", ["tls_undecrypted", "unproxied_connection", "body_truncated", "decode_limit"])
@pytest.mark.parametrize("host", ["android.clients.google.com", "xtrapath2.izatcloud.net", "activation.hmdglobal.com",
                                  "pinned.example"])
def test_opaque_traffic_counts_for_every_host_approved_ones_included(kind: str, host: str) -> None:
    # an approved host may still receive what it is not approved for: unread traffic proves nothing
    gap = CoverageGap(kind, "unread", host=host)  # type: ignore[arg-type]
    verdict = evaluate([], [], [gap], GLOBAL)
    assert verdict.outcome == "inconclusive"
    assert verdict.counted_gaps == (gap,)
    assert verdict.accepted == ()


def test_a_blind_spot_the_policy_accepts_by_name_is_listed_with_its_reason() -> None:
    pinned = CoverageGap("tls_undecrypted", "pinned", host="push.hmdglobal.com")
    verdict = evaluate([], [], [pinned], GLOBAL)
    assert verdict.outcome == "pass"
    ((gap, reason),) = verdict.accepted
    assert gap == pinned
    assert "pins its server key" in reason
    # a gap not about one host's traffic is never accepted, whatever the host says
    stopped = CoverageGap("capture_incomplete", "torn", host="push.hmdglobal.com")
    assert evaluate([], [], [stopped], GLOBAL).counted_gaps == (stopped,)


def test_a_policy_without_accept_blind_leaves_the_pinned_push_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\napproved:\n  - {host: '*.hmdglobal.com', may_receive: []}\n")
    verdict = evaluate([], [], [CoverageGap("tls_undecrypted", "pinned", host="push.hmdglobal.com")],
                       load_policy(path))
    assert verdict.outcome == "inconclusive"
    assert verdict.counted_gaps[0].host == "push.hmdglobal.com"


def test_the_ca_counts_only_while_tls_it_should_have_opened_went_unread() -> None:
    ca = CoverageGap("ca_not_installed", "CA not installable: TLS will not be decrypted (user build: no root)")
    pinned = CoverageGap("tls_undecrypted", "pinned", host="push.hmdglobal.com")
    assert evaluate([], [], [ca, pinned], GLOBAL).outcome == "pass"  # only accepted TLS was closed
    google = CoverageGap("tls_undecrypted", "closed", host="www.google.com")
    assert set(evaluate([], [], [ca, pinned, google], GLOBAL).counted_gaps) == {ca, google}


def test_a_forbidden_host_reached_around_the_proxy_fails() -> None:
    around = CoverageGap("unproxied_connection", "tcp to 42.99.2.15:80", host="zzhc.vnet.cn")
    verdict = evaluate([], [], [around], GLOBAL)
    assert verdict.outcome == "fail"
    (violation,) = verdict.violations
    assert violation.rule.startswith("forbidden-host: zzhc.vnet.cn")
    assert "unproxied_connection" in violation.rule
    # once per host: the flow to it already said so
    flows = [make_flow(b"", host="zzhc.vnet.cn", tls=False, index=3)]
    assert len(evaluate([], flows, [around], GLOBAL).violations) == 1


@pytest.mark.parametrize("path", sorted(h.GLOBAL_POLICY.parent.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_policy_entry_says_why_it_does_or_does_not_accept_blind_traffic(path: Path) -> None:
    policy = load_policy(path)
    lines = path.read_text().splitlines()
    for rule in policy.approved:
        start = next(i for i, line in enumerate(lines) if line.strip().lstrip("- ").startswith("host:")
                     and rule.host in line.replace('"', "").replace("'", ""))
        block = []
        for line in lines[start + 1:]:
            if line.lstrip().startswith("- ") or not line.startswith(" "):
                break
            block.append(line)
        assert rule.accept_blind or any("blind-accepted" in line for line in block), rule.host


def test_contacting_a_forbidden_host_fails_even_without_findings() -> None:
    flows = [make_flow(b"", host="zzhc.vnet.cn", tls=False, index=3)]
    verdict = evaluate([], flows, [], GLOBAL)
    assert verdict.outcome == "fail"
    assert verdict.violations[0].rule.startswith("forbidden-host: zzhc.vnet.cn")
    assert evaluate([], flows, [], CHINA).outcome == "pass"


@pytest.mark.parametrize(("text", "field"), [
    ("name: x\napproved: [{host: a.example, may_receive: [imei, imeii]}]\n", "approved.0.may_receive.1"),
    ("name: x\napproved: [{host: 'bad host', may_receive: []}]\n", "approved.0.host"),
    ("name: x\nforbidden: [{host: zzhc.vnet.cn}]\n", "forbidden.0.reason"),
    ("approved: []\n", "name"),
    ("name: x\ntls_required: maybe\n", "tls_required"),
])
def test_bad_policy_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert (info.value.path, info.value.field) == (str(path), field)


def test_a_decode_limit_reached_is_a_counted_gap_naming_the_host() -> None:
    # F6: the IMEI behind 65 MB of zeros in a small gzip body is past the decoder's bound
    import gzip

    from devicelab.analysis.decoders import Limits
    from devicelab.analysis.scan import Analyzer, scan
    from devicelab.model.traffic import CaptureRead

    bomb = gzip.compress(b"\0" * (2 << 20) + b"IMEI=356938035643809")
    flow = make_flow(bomb, headers={"Content-Encoding": "gzip"}, host="activation.hmdglobal.com")
    analyzer = Analyzer(h.identity(), Limits(max_decoded=1 << 20))
    report = scan([CaptureRead("test", "har", (flow,))], h.identity(), GLOBAL, analyzer=analyzer)
    assert report.findings == ()
    (gap,) = report.verdict.counted_gaps
    assert (gap.kind, gap.host) == ("decode_limit", "activation.hmdglobal.com")
    assert report.verdict.outcome == "inconclusive"


@pytest.mark.parametrize(("run", "count"), [(b"qQqqqqqqqqqqqqqq", 1_001), (b"qqqqqqqqqqqqqqqq", 20_001)])
def test_an_imei_behind_more_base64_runs_than_the_walker_reads_is_a_counted_gap(run: bytes, count: int) -> None:
    # a hostile client pads its payload with runs: past either bound (runs decoded, runs looked at) the
    # gzipped IMEI in Base64 after them is not decoded (no needle form can match it raw), and the verdict says so
    import base64
    import gzip

    from devicelab.analysis.scan import scan
    from devicelab.model.traffic import CaptureRead

    def judged(runs: int) -> ScanReport:
        body = b" ".join([run] * runs + [base64.b64encode(gzip.compress(b"imei " + h.IMEI.encode()))])
        flow = make_flow(body, headers={"Content-Type": "text/plain"}, host="activation.hmdglobal.com")
        return scan([CaptureRead("test", "har", (flow,))], h.identity(), GLOBAL)

    assert [f.kind for f in judged(10).findings] == ["imei"]  # within the bounds it is found
    report = judged(count)
    assert report.findings == ()
    (gap,) = report.verdict.counted_gaps
    assert (gap.kind, gap.host) == ("decode_limit", "activation.hmdglobal.com")
    assert report.verdict.outcome == "inconclusive"
