"""Judging a flow by every name it goes by (audit F4), and contact with a forbidden host by any
path (audit F1): the client's SNI and Host are its own choice, the destination is where it went."""

from __future__ import annotations

from dataclasses import replace

from devicelab.analysis.findings import Finding
from devicelab.analysis.scan import coverage_gaps
from devicelab.analysis.verdict import evaluate
from devicelab.model.policy import load_policy
from devicelab.model.traffic import CaptureRead, CoverageGap
from tests.analysis import helpers as h
from tests.analysis.helpers import make_flow

GLOBAL = load_policy(h.GLOBAL_POLICY)


def _imei(host: str, index: int = 0) -> Finding:
    return Finding(kind="imei", identifier="x", host=host, url=f"https://{host}/", where=("body",), decoders=(),
                   variant="as-is", tls=True, source="test", flow_index=index, flow_id=f"f{index}")


def test_a_spoofed_host_is_judged_by_its_real_destination() -> None:
    # android.clients.google.com may receive the IMEI; the tunnel went to zzhc.vnet.cn, which is forbidden
    flow = replace(make_flow(host="android.clients.google.com"), destination="zzhc.vnet.cn")
    verdict = evaluate([_imei("android.clients.google.com")], [flow], [], GLOBAL)
    assert verdict.outcome == "fail"
    assert {(v.rule.split(":")[0], v.host) for v in verdict.violations} == {("forbidden-host", "zzhc.vnet.cn")}


def test_the_same_flow_with_honest_names_passes() -> None:
    flow = replace(make_flow(host="android.clients.google.com"), destination="android.clients.google.com",
                   sni="android.clients.google.com")
    assert flow.names == ("android.clients.google.com",)
    assert evaluate([_imei("android.clients.google.com")], [flow], [], GLOBAL).outcome == "pass"


def test_a_forbidden_destination_behind_an_approved_sni_fails_without_a_finding() -> None:
    flow = replace(make_flow(host="www.google.com"), destination="zzhc.vnet.cn", undecrypted_tls=True)
    verdict = evaluate([], [flow], [], GLOBAL)
    assert verdict.outcome == "fail"
    assert [v.host for v in verdict.violations] == ["zzhc.vnet.cn"]


def test_a_name_mismatch_is_reported_as_a_counted_gap() -> None:
    flow = replace(make_flow(host="www.google.com"), destination="tracker.example", sni="www.google.com")
    gaps = coverage_gaps([CaptureRead("test", "har", (flow,))])
    assert [(g.kind, g.host) for g in gaps] == [("name_mismatch", "tracker.example")]
    assert evaluate([], [flow], gaps, GLOBAL).outcome == "inconclusive"


def test_an_address_destination_is_no_mismatch() -> None:
    # transparent modes dial an IP: without a name for it, the client's name is all there is
    flow = replace(make_flow(host="www.google.com"), destination="142.250.74.4")
    assert flow.names == ("www.google.com",)
    assert coverage_gaps([CaptureRead("test", "har", (flow,))]) == []


def test_a_forbidden_host_reached_around_the_proxy_fails() -> None:
    gap = CoverageGap("unproxied_connection", "com.qualcomm.qti.autoregistration (uid 10070) tcp to "
                      "198.18.7.7:53 [ESTABLISHED]", host="zzhc.vnet.cn", source="e.jsonl")
    verdict = evaluate([], [make_flow(host="www.google.com")], [gap], GLOBAL)
    assert verdict.outcome == "fail"
    assert [v.rule.split(":")[0] for v in verdict.violations] == ["forbidden-host"]


def test_a_mismatch_gap_names_the_real_destination() -> None:
    flow = replace(make_flow(host="www.google.com"), destination="tracker.example", sni="android.clients.google.com")
    (gap,) = coverage_gaps([CaptureRead("test", "har", (flow,))])
    assert gap.host == "tracker.example"
    assert "www.google.com / android.clients.google.com but went to tracker.example" in gap.detail
