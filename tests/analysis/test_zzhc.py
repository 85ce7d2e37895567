"""The case this project exists for: China Telecom self-registration in a global build."""

from __future__ import annotations

import base64
import json

from devicelab.analysis.verdict import evaluate
from devicelab.model.policy import load_policy
from devicelab.model.traffic import Flow, Request
from tests.analysis import helpers as h


def zzhc_flow() -> Flow:
    """A request built like the Qualcomm/evenwell client's: plain HTTP, Base64.DEFAULT (76 columns) of JSON."""
    payload = {
        "REGVER": "5.0", "MEID": h.IMEI, "MODEL": "HMD-TA-1062", "SWVER": "00WW_3_22C", "UETYPE": "1",
        "SIM1ICCID": h.ICCID, "SIM1LTEIMSI": h.IMSI, "SIM1CELLID": h.CELL_ID, "MACID": h.WIFI_MAC,
        "IMEI1": h.IMEI, "IMEI2": h.IMEI2, "OSVER": "android9", "ACCESSTYPE": "1",
        "REGDATE": "2019-02-01 10:00:00",
    }
    body = base64.encodebytes(json.dumps(payload, separators=(",", ":")).encode())
    assert b"\n" in body.rstrip(b"\n")
    assert all(len(line) <= 76 for line in body.splitlines())
    request = Request(method="POST", scheme="http", host="zzhc.vnet.cn", port=80, path="/", http_version="HTTP/1.1",
                      headers=(("Content-Type", "application/encrypted-json"), ("Host", "zzhc.vnet.cn")),
                      content=body)
    return Flow(source="constructed", index=0, id="zzhc", request=request, tls=False,
                app="com.evenwell.autoregistration")


def test_zzhc_request_reveals_every_identifier_through_base64_and_json() -> None:
    findings = h.analyze(zzhc_flow()).findings
    places = {(f.kind, f.location) for f in findings}
    assert {
        ("imei", "body > base64 > json:MEID"),
        ("imei", "body > base64 > json:IMEI1"),
        ("imei", "body > base64 > json:IMEI2"),
        ("iccid", "body > base64 > json:SIM1ICCID"),
        ("imsi", "body > base64 > json:SIM1LTEIMSI"),
        ("cell_id", "body > base64 > json:SIM1CELLID"),
        ("wifi_mac", "body > base64 > json:MACID"),
    } <= places
    for finding in findings:
        assert finding.decoders[:2] == ("base64", "json")
        assert (finding.host, finding.tls, finding.app) == ("zzhc.vnet.cn", False, "com.evenwell.autoregistration")


def test_zzhc_fails_the_global_policy_and_passes_the_china_policy() -> None:
    flow = zzhc_flow()
    findings = h.analyze(flow).findings
    verdict = evaluate(findings, [flow], [], load_policy(h.GLOBAL_POLICY))
    assert verdict.outcome == "fail"
    rules = {v.rule.split(":")[0] for v in verdict.violations}
    assert rules == {"forbidden-host", "plain-text"}
    assert {v.finding.kind for v in verdict.violations if v.finding} >= {"imei", "iccid", "imsi", "cell_id", "wifi_mac"}
    assert evaluate(findings, [flow], [], load_policy(h.CHINA_POLICY)).outcome == "pass"
