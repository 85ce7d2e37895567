from __future__ import annotations

from devicelab.model.traffic import Flow, Request
from devicelab.reports.collect import FindingContext, clip, finding_record, handset_result
from devicelab.reports.redaction import MARKER
from tests.analysis import helpers as ah
from tests.reports import helpers as h


def test_zzhc_handset_result_is_redacted_and_complete() -> None:
    result = h.nokia_result(FindingContext(logcat={"zzhc": h.LOGCAT.splitlines()},
                                           screenshots={"zzhc": "evidence/b2n-01/screen.png"}))
    text = result.model_dump_json()
    for raw in h.RAW_IDENTIFIERS:
        assert raw not in text, raw
    zzhc = [f for f in result.findings if f.host == "zzhc.vnet.cn"]
    assert {f.kind for f in zzhc} >= {"imei", "iccid", "imsi", "cell_id", "wifi_mac"}
    first = zzhc[0]
    assert (first.tls, first.app, first.body_where) == (False, "com.evenwell.autoregistration", "body > base64")
    assert '"SIM1ICCID": "⟦iccid' in first.body
    assert '"MODEL": "HMD-TA-1062"' in first.body
    assert first.request is not None
    assert first.request.url == "http://zzhc.vnet.cn/"
    assert ("Content-Type", "application/encrypted-json") in first.request.headers
    assert any("Params:" in line and MARKER.search(line) for line in first.logcat)
    assert first.screenshot == "evidence/b2n-01/screen.png"
    assert first.time is not None


def test_violations_point_at_their_findings() -> None:
    result = h.nokia_result()
    assert {v.rule_type for v in result.violations} == {"forbidden-host", "plain-text"}
    for v in result.violations:
        assert v.finding is not None
        finding = result.findings[v.finding]
        assert (finding.kind, finding.identifier, finding.host) == (v.kind, v.identifier, v.host)
    # the approved checkin to Google carries the IMEI without breaking a rule
    assert any(f.host == "android.clients.google.com" for f in result.findings)
    assert all(v.host == "zzhc.vnet.cn" for v in result.violations)


def test_flow_groups_count_flows_and_bytes_per_host_app_and_transport() -> None:
    groups = {(g.host, g.app): g for g in h.emulator_result().flows}
    facebook = [g for (host, _), g in groups.items() if host == "graph.facebook.com"]
    assert sum(g.count for g in facebook) == 18
    assert all(g.tls for g in facebook)
    zzhc = h.nokia_result().flows[-1]
    assert (zzhc.host, zzhc.scheme, zzhc.tls, zzhc.count, zzhc.bytes) == (
        "zzhc.vnet.cn", "http", False, 1, len(h.nokia_flows()[0].request.content))


def test_real_capture_findings_carry_the_query_or_form_they_sat_in() -> None:
    result = h.emulator_result()
    query = next(f for f in result.findings if f.location == "url > query:advertiser_id")
    assert query.body_where == "url"
    assert "advertiser_id=⟦advertising_id" in query.body
    assert query.url.startswith("https://graph.facebook.com/")
    assert ah.AAID not in query.url
    assert result.coverage.flows_scanned == 30
    assert len(result.coverage.captures) == 2


def test_credentials_in_headers_are_hidden() -> None:
    request = Request(method="GET", scheme="https", host="t.example", port=443, path=f"/?imei={ah.IMEI}",
                      headers=(("Authorization", "Bearer sekrit-token"), ("Cookie", "sid=abc"), ("X-IMEI", ah.IMEI)))
    flow = Flow(source="s", index=0, id="f", request=request, tls=True)
    finding = ah.analyze(flow).findings[0]
    record = finding_record(finding, flow, h.redactor())
    assert record.request is not None
    headers = dict(record.request.headers)
    assert headers["Authorization"] == "(hidden: 19 characters)"
    assert "abc" not in headers["Cookie"]
    assert headers["X-IMEI"].startswith("⟦imei")
    assert ah.IMEI not in record.model_dump_json()


def test_clip_keeps_the_first_marker_in_view() -> None:
    text = "a" * 10_000 + "⟦imei …7518#1b9f3c⟧" + "b" * 10_000
    clipped, truncated = clip(text, 4000)
    assert truncated
    assert "⟦imei …7518#1b9f3c⟧" in clipped
    assert clipped.startswith("…")
    assert clipped.endswith("…")
    assert clip("short", 4000) == ("short", False)


def test_a_handset_without_capture_is_not_judged() -> None:
    report = h.scan_flows([], ah.identity(), h.global_policy())
    result = handset_result(h.nokia_handset(), report, h.redactor(), judged=False)
    assert not result.judged
    assert [g.kind for g in result.coverage.gaps] == ["empty_capture"]
