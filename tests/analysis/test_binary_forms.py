"""Identifiers in the binary and numeric forms real clients send: each is found, a look-alike is not.

Binary bodies here do not parse as protobuf (they start with wire type 7), so what finds the
identifier is the needle itself, not the protobuf walker rendering a number as text.
"""

from __future__ import annotations

import base64
import json
import random
import struct
import uuid
from collections.abc import Callable

import pytest

from devicelab.analysis.numeric import base32_stable, base58, bcd, geohash, int64, mobile_identity, varint
from devicelab.analysis.readers import read_capture
from devicelab.analysis.scan import Analyzer
from devicelab.model.identity import GeoFence, Identity
from devicelab.model.traffic import Flow
from tests.analysis import helpers as h
from tests.analysis.helpers import make_flow, near
from tests.analysis.test_encodings import _pb, _varint
from tests.analysis.test_realdata import AAID_LABEL, FILES, _labelled

_JUNK = b"\x07\xfe\x00\x13"  # wire type 7: no protobuf decoder takes this apart


def _bin(payload: bytes) -> Flow:
    return make_flow(_JUNK + payload + b"\x00\xff\x10", headers={"Content-Type": "application/octet-stream"})


def _json(key: str, value: str) -> Flow:
    return make_flow(json.dumps({key: value, "v": 3}).encode(), headers={"Content-Type": "application/json"})


Hide = Callable[[str], Flow]
CASES: list[tuple[str, str, str, Hide, str]] = [
    # (case id, kind, identifier, how it is hidden, the encoding the finding must name)
    ("imei-int64-be", "imei", h.IMEI, lambda v: _bin(int64(int(v), ">")), "int64-be"),
    ("imei-int64-le", "imei", h.IMEI, lambda v: _bin(int64(int(v), "<")), "int64-le"),
    ("imei-varint", "imei", h.IMEI, lambda v: _bin(varint(int(v))), "varint"),
    ("imei-bcd", "imei", h.IMEI, lambda v: _bin(bcd(v)), "bcd"),
    ("imei-tbcd", "imei", h.IMEI, lambda v: _bin(bcd(v, swapped=True)), "tbcd"),
    ("imei-mobile-identity", "imei", h.IMEI, lambda v: _bin(b"\x17\x08" + mobile_identity(v, 2)), "mobile-identity"),
    ("imsi-ef-imsi", "imsi", h.IMSI, lambda v: _bin(b"\x08" + mobile_identity(v, 1)), "ef-imsi"),
    ("imsi-tbcd", "imsi", h.IMSI, lambda v: _bin(bcd(v, swapped=True)), "tbcd"),
    ("imsi-int64-le", "imsi", h.IMSI, lambda v: _bin(int64(int(v), "<")), "int64-le"),
    ("iccid-ef-iccid", "iccid", h.ICCID, lambda v: _bin(bcd(v, swapped=True)), "ef-iccid"),
    ("msisdn-ton-npi-tbcd", "msisdn", h.MSISDN, lambda v: _bin(b"\x07\x91" + bcd(v[1:], swapped=True)), "tbcd"),
    ("msisdn-int64-be", "msisdn", h.MSISDN, lambda v: _bin(int64(int(v[1:]), ">")), "int64-be"),
    ("android-id-int64-be", "android_id", h.ANDROID_ID, lambda v: _bin(int64(int(v, 16), ">")), "int64-be"),
    ("android-id-int64-le", "android_id", h.ANDROID_ID, lambda v: _bin(int64(int(v, 16), "<")), "int64-le"),
    ("aaid-raw", "advertising_id", h.AAID, lambda v: _bin(uuid.UUID(v).bytes), "raw"),
    ("aaid-base64url", "advertising_id", h.AAID,
     lambda v: _json("id", base64.urlsafe_b64encode(uuid.UUID(v).bytes).decode().rstrip("=")), "raw"),
    ("aaid-base58", "advertising_id", h.AAID, lambda v: _json("id", base58(uuid.UUID(v).bytes).decode()), "base58"),
    ("mac-raw", "wifi_mac", h.WIFI_MAC, lambda v: _bin(bytes.fromhex(v.replace(":", ""))), "raw"),
    ("imei-base32", "imei", h.IMEI, lambda v: _json("d", base64.b32encode(b"xy" + v.encode()).decode()), "base32@2"),
    ("imei-base32-lower", "imei", h.IMEI, lambda v: _json("d", base64.b32encode(v.encode()).decode().lower()),
     "base32@0"),
    ("serial-base58", "serial", h.SERIAL, lambda v: _json("s", base58(v.encode()).decode()), "base58"),
]


@pytest.mark.parametrize(("kind", "value", "hide", "encoding"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_binary_form_is_found(kind: str, value: str, hide: Hide, encoding: str) -> None:
    findings = [f for f in h.analyze(hide(value)).findings if f.kind == kind]
    assert any(encoding in f.decoders for f in findings), [f.decoders for f in findings]


@pytest.mark.parametrize(("kind", "value", "hide"), [c[1:4] for c in CASES], ids=[c[0] for c in CASES])
def test_binary_look_alike_is_not_found(kind: str, value: str, hide: Hide) -> None:
    assert kind not in h.kinds(hide(near(value)))


def test_a_varint_inside_a_longer_varint_is_not_the_identifier() -> None:
    # 0x81 says "more bytes follow": the IMEI's varint bytes are the high part of a different number
    assert "imei" not in h.kinds(_bin(b"\x81" + varint(int(h.IMEI))))
    assert "imei" in h.kinds(_bin(b"\x01" + varint(int(h.IMEI))))


def test_base32_stable_substring_survives_any_surroundings() -> None:
    rng = random.Random(3)
    for offset in range(5):
        stable = base32_stable(h.IMEI.encode(), offset)
        for _ in range(10):
            prefix = rng.randbytes(offset + 5 * rng.randrange(3))
            assert stable in base64.b32encode(prefix + h.IMEI.encode() + rng.randbytes(rng.randrange(7)))


def test_sim_encodings_follow_the_standards() -> None:
    # EF_IMSI (TS 31.102 4.2.2): length 8, then digit 1 with parity (odd) and type IMSI (1), then TBCD
    assert (b"\x08" + mobile_identity("242016000451873", 1)).hex() == "082924100600548137"
    # EF_ICCID (TS 102 221 13.2): swapped nibbles, F-padded to 10 bytes
    assert bcd("8947080037110452718", swapped=True).hex() == "987480007311402517f8"
    assert varint(300) == b"\xac\x02"
    assert base58(b"hello world") == b"StV1DL6CwTryKyV"
    assert geohash(57.64911, 10.40744, 11) == "u4pruydqqvj"


# the example identity: lat 59.9127, lon 10.7461, radius 2000 m
@pytest.mark.parametrize(("body", "found"), [
    ({"gh": geohash(59.9200, 10.7500, 9)}, True),  # ~850 m away, precision 9: its first 6 characters match
    ({"gh": geohash(59.9127, 10.7461, 6)}, True),
    ({"gh": geohash(59.9500, 10.7461, 9)}, False),  # ~4 km away
    ({"gh": geohash(59.9127, 10.7461, 5)}, False),  # a 5 km cell says too little
    ({"gh": "x" + geohash(59.9200, 10.7500, 9)}, False),  # inside a longer token
])
def test_geohash_near_the_handset_is_a_position(body: dict[str, str], found: bool) -> None:
    findings = [f for f in h.analyze(make_flow(json.dumps(body).encode())).findings if f.kind == "location"]
    assert bool(findings) is found
    if found:
        assert findings[0].decoders == ("json", "geohash")
        assert "m from the handset" in findings[0].detail


def test_negative_e7_in_sfixed32_is_a_position() -> None:
    # New York: longitude -74.006 arrives as an unsigned 32-bit integer when the schema is unknown
    analyzer = Analyzer(Identity(location=GeoFence(lat=40.7128, lon=-74.0060, radius_m=2000)))  # type: ignore[call-arg]

    def body(lat: float, lon: float) -> bytes:
        return (_varint(1 << 3 | 5) + struct.pack("<i", round(lat * 1e7))
                + _varint(2 << 3 | 5) + struct.pack("<i", round(lon * 1e7)))

    near_ny = analyzer.analyze(_pb(body(40.7200, -74.0000))).findings
    assert [f.location for f in near_ny if f.kind == "location"] == ["body > protobuf:$"]
    assert not analyzer.analyze(_pb(body(40.7200, -73.9000))).findings  # ~9 km east
    assert not analyzer.analyze(_pb(body(40.7200, 74.0000))).findings  # the mirror image, east of Greenwich


@pytest.mark.parametrize("name", FILES)
def test_real_captures_hold_no_false_positive(name: str) -> None:
    # Every form of every identifier of the example handset over the real captures: the example shares
    # only its advertising ID with them, and only the requests labelled with it are flagged.
    analyzer = Analyzer(h.identity())
    findings = [f for flow in read_capture(h.DATA / name).flows for f in analyzer.analyze(flow).findings]
    assert {f.kind for f in findings} == {"advertising_id"}
    assert sorted({f.flow_index for f in findings}) == _labelled(name, AAID_LABEL)


def test_random_binary_holds_no_identifier() -> None:
    rng = random.Random(11)
    flows = [make_flow(rng.randbytes(64 * 1024), headers={"Content-Type": "application/octet-stream"})
             for _ in range(32)]
    assert [f for flow in flows for f in h.analyze(flow).findings] == []
