"""Differential identity analysis on synthetic flows: what follows the identity is flagged, what
changes per request (nonce, time, counter, session) or is already a known identifier is not."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from devicelab.analysis.differential import (
    HandsetTraffic,
    derive,
    findings_for,
    is_counter,
    is_time,
    path_template,
)
from devicelab.analysis.scan import Analyzer
from devicelab.model.identity import Identity
from devicelab.model.policy import DERIVED_KIND, ApprovedHost, Policy
from devicelab.model.traffic import Flow, Request

KEY, IV = b"k" * 16, b"i" * 16
SALT = b"build-salt-00WW_3_22C"
T0 = 1_765_000_000.0
HANDSETS = {
    "a": Identity(imei=["490154203237518"], serial=["B2NGAB0123456789"], android_id=["51b6be48bac8c569"]),
    "b": Identity(imei=["353911100423419"], serial=["B2NGAB9876543210"], android_id=["0f3e2d1c4b5a6978"]),
}


def aes_b64(text: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(text.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(IV)).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


def flow(index: int, at: float, host: str, path: str, body: dict[str, object], *, app: str = "com.example.telemetry",
         headers: tuple[tuple[str, str], ...] = ()) -> Flow:
    content = json.dumps(body).encode()
    request = Request("POST", "https", host, 443, path, "HTTP/1.1",
                      (("Content-Type", "application/json"), ("Content-Length", str(len(content))), *headers), content)
    return Flow(source="cap", index=index, id=f"f{index}", request=request, tls=True, app=app, timestamp=at)


def traffic(name: str, repeats: int = 2, per_repeat: int = 2) -> HandsetTraffic:
    """What a handset of identity `name` sends: telemetry, a hashed serial, a plain IMEI, noise."""
    ident = HANDSETS[name]
    imei, serial, android_id = ident.imei[0], ident.serial[0], ident.android_id[0]
    flows: list[Flow] = []
    seq = 0
    starts = [T0 + 1000.0 * r for r in range(1, repeats)]
    for repeat in range(repeats):
        session = secrets.token_hex(16)  # a session token: new every boot
        for n in range(per_repeat):
            seq += 1
            at = T0 + 1000.0 * repeat + 10 * n
            flows.append(flow(len(flows), at, "t.analytics.example", "/v1/report", {
                "d": aes_b64(imei), "nonce": secrets.token_hex(8), "ts": int(at * 1000), "seq": seq,
                "model": "Nokia 7 plus", "boot": repeat}, headers=(("Cookie", f"sid={session}"),)))
            flows.append(flow(len(flows), at + 1, "sdk.example", f"/u/{secrets.token_hex(6)}/ping", {
                "h": hashlib.sha256(SALT + serial.encode()).hexdigest(), "when": f"2026-12-0{repeat + 1}T10:00:00Z"},
                app="com.example.sdk"))
            flows.append(flow(len(flows), at + 2, "activation.hmdglobal.com", f"/api/{android_id}/activate",
                              {"imei1": imei, "sw": "00WW_3_22C"}, app="com.evenwell.autoregistration"))
    analyzer = Analyzer(ident)
    findings = [f for fl in flows for f in analyzer.analyze(fl).findings]
    return HandsetTraffic(name, flows, findings, starts)


def test_the_encrypted_imei_and_the_salted_serial_hash_are_flagged_and_nothing_else() -> None:
    derived = derive([traffic("a"), traffic("b")])
    flagged = {(d.flow_key[1], d.location) for d in derived}
    assert flagged == {
        ("t.analytics.example", "body > json:d"),  # AES-CBC under a fixed key, then Base64
        ("sdk.example", "body > json:h"),  # salted SHA-256 of the serial (the salt fixed per build)
    }


def test_the_analyzer_alone_sees_neither() -> None:
    a = traffic("a")
    assert {f.host for f in a.findings} == {"activation.hmdglobal.com"}


def test_evidence_has_both_values_redacted_and_the_repeats() -> None:
    a, b = traffic("a"), traffic("b")
    derived = derive([a, b])
    telemetry = next(d for d in derived if d.location == "body > json:d")
    found = [f for f in findings_for(a, derived) if f.location == "body > json:d"]
    assert len(found) == 4
    assert {f.kind for f in found} == {DERIVED_KIND}
    detail = found[0].detail
    assert aes_b64("490154203237518") not in detail
    assert aes_b64("353911100423419") not in detail
    assert "repeat 1: 2x" in detail
    assert "repeat 2: 2x" in detail
    assert "(this handset)" in detail
    assert telemetry.repeats == {"a": {0: 2, 1: 2}, "b": {0: 2, 1: 2}}
    assert found[0].to_dict()["identifier"].startswith("…")


def test_a_value_seen_in_one_repeat_only_is_not_proof_of_stability() -> None:
    # a session token: new every boot, the same on each request within one boot
    derived = derive([traffic("a", repeats=1), traffic("b", repeats=1)])
    assert {"body > json:d", "body > json:h", "header:Cookie > cookie:sid"} <= {d.location for d in derived}
    derived = derive([traffic("a"), traffic("b")])
    assert not any("Cookie" in d.location for d in derived)


def test_one_request_per_handset_proves_nothing() -> None:
    assert derive([traffic("a", repeats=1, per_repeat=1), traffic("b", repeats=1, per_repeat=1)]) == []


def test_one_handset_is_no_comparison() -> None:
    assert derive([traffic("a")]) == []


def test_a_known_identifier_is_not_reported_twice() -> None:
    derived = derive([traffic("a"), traffic("b")])
    assert not any(d.flow_key[1] == "activation.hmdglobal.com" for d in derived)


def test_same_traffic_on_both_handsets_flags_nothing() -> None:
    a = traffic("a")
    assert derive([a, HandsetTraffic("b", a.flows, a.findings, a.repeat_starts)]) == []


def test_path_templates_hide_ids() -> None:
    assert path_template("/u/3fa2b9c01d2e/ping?x=1") == "/u/{id}/ping"
    assert path_template("/u/301249017723/ping") == "/u/{id}/ping"  # a hex id with no letter, by chance
    assert path_template("/api/v1/devices/490154203237518") == "/api/v1/devices/{id}"
    assert path_template("/x/1209d0b9-b959-42e6-b921-aa5d9d08c1af/y") == "/x/{uuid}/y"
    assert path_template("/v1/events") == "/v1/events"


def test_times_and_counters() -> None:
    assert is_time(b"1765000000", T0)
    assert is_time(b"1765000000123", T0)
    assert is_time(b"1765000000.5", T0)
    assert is_time(b"2026-12-06T20:00:00Z", T0)
    assert is_time(b"20261206200000", T0)
    assert not is_time(b"490154203237518", T0)
    assert not is_time(b"abcdef", T0)
    assert is_counter([b"17", b"4096"])
    assert not is_counter([b"490154203237518"])
    assert not is_counter([b"abc"])


def test_policy_derived_to_an_approved_host_is_shown_or_needs_review() -> None:
    approved = Policy(name="p", approved=(ApprovedHost(host="*.hmdglobal.com", may_receive=("imei",)),
                                          ApprovedHost(host="*.gstatic.com")))
    assert approved.judge(DERIVED_KIND, "activation.hmdglobal.com", True) == []
    assert approved.judge(DERIVED_KIND, "t.analytics.example", True) == [
        "identity-derived: this host may receive no identifier"]
    assert approved.judge(DERIVED_KIND, "connectivitycheck.gstatic.com", True) != []
    review = approved.model_copy(update={"review_derived": True})
    assert [r.split(":")[0] for r in review.judge(DERIVED_KIND, "activation.hmdglobal.com", True)] == ["review-derived"]


def test_a_token_the_server_hands_out_after_the_first_request_is_not_the_identity() -> None:
    def with_token(name: str) -> HandsetTraffic:
        token = secrets.token_hex(8)  # the server's, kept by the handset from its second request on
        flows = [flow(i, T0 + 1000.0 * i, "c.example", "/checkin", {"token": token} if i else {"first": True},
                      app="gms") for i in range(3)]
        return HandsetTraffic(name, flows, (), (T0 + 1500.0,))
    assert derive([with_token("a"), with_token("b")]) == []
