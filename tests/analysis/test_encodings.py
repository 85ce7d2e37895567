"""Each encoding an identifier can hide in: the hidden identifier is found, a near miss is not."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import struct
import zlib
from collections.abc import Callable
from urllib.parse import quote

import brotli
import pytest
import zstandard

from devicelab.model.traffic import Flow
from tests.analysis import helpers as h
from tests.analysis.helpers import make_flow, near


def _json(**values: object) -> bytes:
    return json.dumps(values).encode()


def _jflow(key: str, value: object) -> Flow:
    return make_flow(_json(**{key: value}), headers={"Content-Type": "application/json"})


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_string(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(value)) + value


def _pb(body: bytes) -> Flow:
    return make_flow(body, headers={"Content-Type": "application/x-protobuf"})


def _escaped(value: str) -> bytes:
    return ('{"imei": "' + "".join(f"\\u{ord(c):04x}" for c in value) + '"}').encode()


def _multipart(value: str) -> Flow:
    body = (
        "--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\nhello\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"device\"\r\nContent-Type: application/json\r\n\r\n"
        + json.dumps({"imei": value}) + "\r\n--XyZ--\r\n"
    ).encode()
    return make_flow(body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"})


def _urlsafe_b64(value: str) -> bytes:
    # '~~~' and '???' encode to '-' and '_' in the URL-safe alphabet, so the body is not standard Base64
    raw = json.dumps({"pad": "~~~???>>>", "imei": value}).encode()
    encoded = base64.urlsafe_b64encode(raw)
    assert b"-" in encoded or b"_" in encoded
    return encoded


Hide = Callable[[str], Flow]
CASES: list[tuple[str, str, str, Hide, str | None]] = [
    # (case id, kind, identifier, how it is hidden, a decoder the finding must name)
    ("mac-colon-lower", "wifi_mac", h.WIFI_MAC, lambda v: _jflow("mac", v), "json"),
    ("mac-colon-upper", "wifi_mac", h.WIFI_MAC, lambda v: _jflow("mac", v.upper()), None),
    ("mac-dash-lower", "wifi_mac", h.WIFI_MAC, lambda v: _jflow("mac", v.replace(":", "-")), None),
    ("mac-dash-upper", "wifi_mac", h.WIFI_MAC, lambda v: _jflow("mac", v.replace(":", "-").upper()), None),
    ("mac-no-separators", "wifi_mac", h.WIFI_MAC, lambda v: _jflow("mac", v.replace(":", "")), None),
    ("mac-no-separators-upper", "wifi_mac", h.WIFI_MAC, lambda v: _jflow("mac", v.replace(":", "").upper()), None),
    ("msisdn-e164", "msisdn", h.MSISDN, lambda v: _jflow("phone", v), None),
    ("msisdn-national", "msisdn", h.MSISDN, lambda v: _jflow("phone", v[3:]), None),
    ("msisdn-00", "msisdn", h.MSISDN, lambda v: _jflow("phone", "00" + v[1:]), None),
    ("urlencoded", "wifi_mac", h.WIFI_MAC,
     lambda v: make_flow(b"mac is " + quote(v, safe="").encode(), headers={"Content-Type": "text/plain"}), None),
    ("urlencoded-twice", "msisdn", h.MSISDN,
     lambda v: make_flow(b"n " + quote(quote(v, safe=""), safe="").encode()), None),
    ("base64-76-columns", "imei", h.IMEI,
     lambda v: make_flow(base64.encodebytes(_json(REGVER="5.0", MODEL="HMD-TA-1062", IMEI1=v, pad="x" * 80))),
     "base64"),
    ("base64-urlsafe", "imei", h.IMEI, lambda v: make_flow(_urlsafe_b64(v)), "base64"),
    ("base64-wrong-content-type", "imsi", h.IMSI,
     lambda v: make_flow(base64.b64encode(_json(imsi=v)), headers={"Content-Type": "image/png"}), "base64"),
    ("gzip-inside-base64", "iccid", h.ICCID,
     lambda v: make_flow(base64.b64encode(gzip.compress(_json(iccid=v)))), "gzip"),
    ("hex-of-ascii", "imei", h.IMEI, lambda v: _jflow("d", v.encode().hex()), "hex"),
    ("hex-of-ascii-upper", "imei", h.IMEI, lambda v: _jflow("d", v.encode().hex().upper()), "hex"),
    ("utf-16le", "imei", h.IMEI, lambda v: make_flow(b"\x00\x01" + v.encode("utf-16-le") + b"\x00"), "utf-16le"),
    ("imei-no-check-digit", "imei", h.IMEI, lambda v: _jflow("imei", v[:14]), None),
    ("iccid-trailing-F", "iccid", h.ICCID, lambda v: _jflow("iccid", v + "F"), None),
    ("cell-decimal-number", "cell_id", h.CELL_ID, lambda v: _jflow("cid", int(v)), None),
    ("cell-enb-split", "cell_id", h.CELL_ID,
     lambda v: make_flow(path=f"/cell?c={int(v) >> 8}-{int(v) & 255}&t=1", method="GET"), "query"),
    ("json-unicode-escapes", "imei", h.IMEI, lambda v: make_flow(_escaped(v)), "json"),
    ("form-with-json-inside", "imei", h.IMEI,
     lambda v: make_flow(b"a=1&data=" + quote(json.dumps({"dev": {"imei": v}})).encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded"}), "form"),
    ("multipart", "imei", h.IMEI, _multipart, "multipart"),
    ("query-string", "android_id", h.ANDROID_ID, lambda v: make_flow(path=f"/t?aid={v}&x=2", method="GET"), "query"),
    ("header", "imsi", h.IMSI, lambda v: make_flow(headers={"X-WAP-Network-Client-IMSI": v}), None),
    ("cookie", "advertising_id", h.AAID, lambda v: make_flow(headers={"Cookie": f"a=1; did={v}; b=2"}), "cookie"),
    ("header-base64-json", "serial", h.SERIAL,
     lambda v: make_flow(headers={"X-Device": base64.b64encode(_json(serial=v, model="TA-1062")).decode()}), "json"),
    ("protobuf-string", "imei", h.IMEI, lambda v: _pb(_pb_string(1, v.encode()) + _pb_string(2, b"Nokia")),
     "protobuf"),
    ("protobuf-mac-no-separators", "wifi_mac", h.WIFI_MAC,
     lambda v: _pb(_varint(3 << 3) + _varint(42) + _pb_string(9, v.replace(":", "").encode())), "protobuf"),
    ("protobuf-varint", "imei", h.IMEI, lambda v: _pb(_varint(1 << 3) + _varint(int(v))), "protobuf"),
    ("protobuf-fixed64-android-id", "android_id", h.ANDROID_ID,
     lambda v: _pb(_varint(2 << 3 | 1) + struct.pack("<Q", int(v, 16)) + _pb_string(3, b"x")), "protobuf"),
]


def _compressed(codec: str, compress: Callable[[bytes], bytes]) -> Hide:
    return lambda v: make_flow(compress(_json(imei=v)), headers={"Content-Encoding": codec,
                                                                 "Content-Type": "application/json"})


def _hashed(algo: str, spell: Callable[[bytes], str]) -> Hide:
    return lambda v: _jflow("h", spell(hashlib.new(algo, v.encode()).digest()))


for codec, compress in (("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress),
                        ("zstd", zstandard.ZstdCompressor().compress)):
    CASES.append((f"content-encoding-{codec}", "imei", h.IMEI, _compressed(codec, compress), codec))
for algo in ("md5", "sha1", "sha256"):
    CASES += [
        (f"{algo}-hex", "imei", h.IMEI, _hashed(algo, bytes.hex), f"{algo}-hex"),
        (f"{algo}-hex-upper", "imei", h.IMEI, _hashed(algo, lambda d: d.hex().upper()), f"{algo}-hex"),
        (f"{algo}-base64", "imei", h.IMEI, _hashed(algo, lambda d: base64.b64encode(d).decode()), None),
    ]


@pytest.mark.parametrize(("kind", "value", "hide", "decoder"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hidden_identifier_is_found(kind: str, value: str, hide: Hide, decoder: str | None) -> None:
    findings = [f for f in h.analyze(hide(value)).findings if f.kind == kind]
    assert findings, f"{kind} not found"
    if decoder is not None:
        assert any(decoder in f.decoders for f in findings), [f.decoders for f in findings]


@pytest.mark.parametrize(("kind", "value", "hide"), [c[1:4] for c in CASES], ids=[c[0] for c in CASES])
def test_near_miss_is_not_found(kind: str, value: str, hide: Hide) -> None:
    assert kind not in h.kinds(hide(near(value)))


def test_findings_say_where_and_how() -> None:
    body = base64.b64encode(gzip.compress(_json(device={"imei": h.IMEI})))
    [finding] = h.analyze(make_flow(body, host="collector.example", tls=False)).findings
    assert finding.location == "body > base64 > gzip > json:device.imei"
    assert finding.decoders == ("base64", "gzip", "json")
    assert (finding.host, finding.tls, finding.url) == ("collector.example", False, "http://collector.example/collect")
