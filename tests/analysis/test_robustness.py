"""Malformed bodies never crash the analysis, and every decoder is bounded."""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
import zlib

import brotli
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devicelab.analysis.decoders import Limits, Segment, Walker
from tests.analysis import helpers as h
from tests.analysis.helpers import analyze, make_flow

_MB = 1024 * 1024


def _notes(flow: object) -> list[str]:
    return [f"{n.decoder}: {n.problem}" for n in analyze(flow).notes]  # type: ignore[arg-type]


def test_bad_gzip_is_a_note_and_the_raw_body_is_still_scanned() -> None:
    flow = make_flow(b"\x1f\x8b\x08garbage " + h.IMEI.encode(), headers={"Content-Encoding": "gzip"})
    result = analyze(flow)
    assert [f.location for f in result.findings] == ["body"]
    assert any(n.decoder == "gzip" and "could not decode" in n.problem for n in result.notes)


def test_truncated_gzip_yields_what_it_holds() -> None:
    packed = gzip.compress(json.dumps({"imei": h.IMEI, "pad": os.urandom(3000).hex()}).encode())
    result = analyze(make_flow(packed[: len(packed) // 2], headers={"Content-Encoding": "gzip"}))
    assert {f.kind for f in result.findings} == {"imei"}
    assert any("ends early" in n.problem for n in result.notes)


def test_unknown_content_encoding_is_noted() -> None:
    assert any("unknown content-encoding" in n for n in _notes(make_flow(b"abc", headers={"Content-Encoding": "xz"})))


@pytest.mark.parametrize("body", [
    b"eyJpbWVpIjoiNDkwMTU0MjAzMjM3NTE4In0",  # Base64 cut mid-quantum, no padding
    b"eyJpbWVpIjoi!!NDkwMTU0MjAzMjM3NTE4In0=",  # a foreign character inside
    b"====" + b"QUJD" * 3 + b"=",
])
def test_broken_base64_does_not_crash(body: bytes) -> None:
    analyze(make_flow(body, headers={"Content-Type": "application/encrypted-json"}))


def test_declared_json_that_is_not_json_is_noted() -> None:
    notes = _notes(make_flow(b'{"imei": "4901', headers={"Content-Type": "application/json"}))
    assert any(n.startswith("json: could not decode") for n in notes)


def test_invalid_utf8_is_fine() -> None:
    body = b"\xff\xfe\xc3(" + h.IMEI.encode() + b"\xed\xa0\x80" + b'{"a": "\xff"}'
    assert "imei" in h.kinds(make_flow(body, headers={"Content-Type": "application/json; charset=utf-8"}))


def test_deeply_nested_json_is_bounded() -> None:
    deep = b'{"a":' * 100_000 + b'"' + h.IMEI.encode() + b'"' + b"}" * 100_000
    result = analyze(make_flow(deep, headers={"Content-Type": "application/json"}))
    assert {f.kind for f in result.findings} == {"imei"}  # still found in the raw body
    moderately = json.dumps(json.loads(b'{"a":' * 200 + b"1" + b"}" * 200)).encode()
    notes = [n.problem for n in analyze(make_flow(moderately)).notes]
    assert any("nested deeper than" in n for n in notes)


@pytest.mark.parametrize("codec", ["gzip", "deflate", "br", "zstd"])
def test_compression_bombs_are_capped(codec: str) -> None:
    zeros = b"\0" * (80 * _MB)
    packed = {"gzip": gzip.compress, "deflate": zlib.compress, "br": lambda d: brotli.compress(d, quality=5),
              "zstd": zstandard.ZstdCompressor().compress}[codec](zeros)
    walker = Walker(Limits(max_decoded=16 * _MB))
    items = walker.walk(make_flow(packed, headers={"Content-Encoding": codec}).request)
    produced = sum(len(item.data) for item in items if isinstance(item, Segment))
    assert produced <= 16 * _MB + len(packed) + 100
    assert any("output cut" in n.problem for n in walker.notes)


def test_gzip_bomb_inside_base64_is_capped() -> None:
    body = base64.b64encode(gzip.compress(b"A" * (200 * _MB)))
    result = analyze(make_flow(body))
    assert any("output cut" in n.problem or "budget" in n.problem for n in result.notes)


def test_a_50_mb_body_is_scanned_to_its_end() -> None:
    chunk = (b'{"k":"' + base64.b64encode(os.urandom(600)) + b'","t":1700000000},\n') * 64
    body = chunk * (50 * _MB // len(chunk)) + h.IMEI.encode()
    assert len(body) >= 49 * _MB
    started = time.monotonic()
    result = analyze(make_flow(body, headers={"Content-Type": "text/plain"}))
    assert "imei" in {f.kind for f in result.findings}
    assert time.monotonic() - started < 120  # generous: a hang guard, not a benchmark


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=4096),
    ctype=st.sampled_from(["", "application/json", "application/x-protobuf", "multipart/form-data; boundary=b",
                           "multipart/mixed", "application/x-www-form-urlencoded", "application/encrypted-json"]),
    encoding=st.sampled_from(["", "gzip", "deflate", "br", "zstd", "gzip, br", "bogus"]),
    path=st.text(max_size=64),
    header=st.text(max_size=64),
)
def test_arbitrary_bytes_never_raise(body: bytes, ctype: str, encoding: str, path: str, header: str) -> None:
    headers = {"Content-Type": ctype, "Content-Encoding": encoding, "Cookie": header, "X-Any": header}
    started = time.monotonic()
    analyze(make_flow(body, headers=headers, path="/" + path))
    assert time.monotonic() - started < 5


@settings(max_examples=100, deadline=5000)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=40))
def test_arbitrary_json_never_raises(doc: object) -> None:
    body = json.dumps(doc).encode()
    for encoded in (body, base64.b64encode(gzip.compress(body))):
        analyze(make_flow(encoded, headers={"Content-Type": "application/json"}))


def test_field_number_zero_is_no_protobuf_and_a_megabyte_of_zeros_is_quick() -> None:
    from devicelab.analysis.structured import NotProtobuf, parse_protobuf

    with pytest.raises(NotProtobuf, match="field 0"):
        parse_protobuf(b"\x00" * (1 << 20))
    assert parse_protobuf(b"\x08\x01") == {"1": 1}  # field 1, varint 1: a message
    # the IMEI beside the zeros is still found in the raw bytes
    start = time.monotonic()
    analysis = analyze(make_flow(b"\x00" * (1 << 20) + b"IMEI=" + h.IMEI.encode(),
                                 headers={"Content-Type": "application/x-protobuf"}))
    assert {f.kind for f in analysis.findings} == {"imei"}
    assert time.monotonic() - start < 30  # bbpb alone took seconds over the zeros (bounded, not timed)
