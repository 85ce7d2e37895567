from __future__ import annotations

from pathlib import Path

import pytest

from devicelab.analysis.findings import Finding
from devicelab.analysis.verdict import evaluate
from devicelab.errors import ConfigError
from devicelab.model.policy import STRICT, host_matches, load_policy
from devicelab.model.traffic import CoverageGap
from tests.analysis import helpers as h
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


def test_undecrypted_tls_counts_only_for_unapproved_hosts() -> None:
    approved = CoverageGap("tls_undecrypted", "pinned", host="android.clients.google.com")
    unknown = CoverageGap("tls_undecrypted", "pinned", host="pinned.example")
    assert evaluate([], [], [approved], GLOBAL).outcome == "pass"
    verdict = evaluate([], [], [approved, unknown], GLOBAL)
    assert verdict.outcome == "inconclusive"
    assert verdict.counted_gaps == (unknown,)


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
