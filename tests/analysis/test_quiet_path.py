"""The C quiet path against the walker: wherever the prover answers, the walker finds nothing and notes the same.

The prover (devicelab/analysis/_c/prove.c) may leave any request to the walker (None); it must never call a
request quiet where the walker would find an identifier or leave another note. Each test here builds requests
that come near the prover's rules (an identifier in every encoding the walker decodes, the traces that make a
value loud, the limits) and compares the two on every one of them; and the bench's kinds of body must take
the quiet path, or it would go unused without a failing test.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import os
import random
import urllib.parse
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devicelab.analysis import quiet_path
from devicelab.analysis.readers import read_capture
from devicelab.analysis.scan import Analyzer
from devicelab.analysis.segments import Limits
from devicelab.model.traffic import Flow
from tests.analysis import helpers as h
from tests.analysis.helpers import make_flow

_FAST = Analyzer(h.identity())
_WALKER = Analyzer(h.identity(), fast=False)


def _same(flow: Flow, fast: Analyzer = _FAST, walker: Analyzer = _WALKER) -> bool:
    """Whether the prover answered; if it did, the analysis from it equals the walker's (findings and notes)."""
    assert fast.quiet_path is not None
    proven = fast.quiet_path.prove(flow.request)
    if proven is None:
        return False
    ours, walked = fast.analyze(flow), walker.analyze(flow)
    assert ours.findings == walked.findings
    assert ours.notes == walked.notes
    if not proven[1]:  # nothing handed to the matcher: nothing for it to find
        assert walked.findings == (), f"the prover called a flow with findings quiet: {walked.findings[:2]}"
    return True


def test_the_c_module_is_built() -> None:
    # bootstrap builds it: without it every request takes the walker, correct but several times slower
    assert quiet_path.AVAILABLE
    assert _FAST.quiet_path is not None


def _document(rng: random.Random, identifier: str | None = None, where: str = "device") -> bytes:
    words: dict[str, object] = {f"k{i}": rng.choice([rng.random(), rng.randrange(10**9), os.urandom(12).hex()])
                                for i in range(20)}
    if identifier is not None:
        words[where] = identifier
    return json.dumps(words).encode()


#: each kind of body the bench's mixed corpus holds, with its headers
def _bodies(rng: random.Random, identifier: str | None = None) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    doc = _document(rng, identifier)
    yield "JSON", doc, {"Content-Type": "application/json"}
    yield "JSON documents", doc * 3, {"Content-Type": "application/json"}
    form = urllib.parse.urlencode(json.loads(doc)).encode()
    yield "form", form, {"Content-Type": "application/x-www-form-urlencoded"}
    yield "Base64 JSON", base64.encodebytes(doc * 2), {"Content-Type": "application/encrypted-json"}
    yield "gzip JSON", gzip.compress(doc * 4), {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    noise = bytearray(os.urandom(4096))
    if identifier is not None:
        at = rng.randrange(len(noise) - 40)
        noise[at:at + len(identifier)] = identifier.encode()
    yield "random binary", bytes(noise), {"Content-Type": "application/octet-stream"}
    yield "text", b"lorem ipsum dolor sit amet " * 50 + (identifier or "").encode(), {"Content-Type": "text/plain"}


def test_every_kind_of_the_bench_takes_the_quiet_path() -> None:
    rng = random.Random(3)
    taken = {kind: _same(make_flow(body, headers=headers)) for kind, body, headers in _bodies(rng)}
    assert all(taken.values()), taken


def test_an_identifier_in_any_kind_of_body_is_found_as_the_walker_finds_it() -> None:
    rng = random.Random(4)
    answered = set()
    for value in (h.IMEI, h.IMSI, h.ICCID, h.WIFI_MAC, h.ANDROID_ID):
        for kind, body, headers in _bodies(rng, value):
            flow = make_flow(body, headers=headers)
            assert _WALKER.analyze(flow).findings, (kind, value)
            if _same(flow):
                answered.add(kind)
    # a JSON document's values are the walker's to place (and a MAC's %3A makes a form the walker's)
    assert answered == {"form", "JSON documents", "Base64 JSON", "gzip JSON", "random binary", "text"}


#: an identifier as the decoders that the prover follows or refuses would reveal it
_HIDDEN: dict[str, Callable[[bytes], bytes]] = {
    "base64 body": lambda v: base64.b64encode(b'{"imei": "' + v + b'", "pad": "' + b"x" * 40 + b'"}'),
    "base64 of gzip": lambda v: base64.b64encode(gzip.compress(v * 3)),
    "base64 in text": lambda v: b"token=" + base64.b64encode(gzip.compress(v)) + b" end",
    "escaped": lambda v: b"a=" + urllib.parse.quote_from_bytes(v, safe=b"").encode() + b"&b=1",
    "escaped in binary": lambda v: os.urandom(300).replace(b"%", b"_") + b"%" + b"%".join(b"%02x" % c for c in v),
    "escaped twice": lambda v: b"q=" + urllib.parse.quote(urllib.parse.quote_from_bytes(v, safe=b"")).encode(),
    # in binary, a Base64 run whole only once its escapes are undone, and escapes that make escapes
    "escaped run in binary": lambda v: b"\x01\x02" + os.urandom(3000).replace(b"%", b"_") + b"." + b"".join(
        b"%%%02X" % c if i % 7 == 3 else bytes([c]) for i, c in enumerate(base64.b64encode(gzip.compress(v)))) + b".",
    "escaped escapes in binary": lambda v: b"\x01" + os.urandom(3000).replace(b"%", b"_") + b"".join(
        b"%25" + (b"%02x" % c) for c in v),
    "gzip at the start": lambda v: gzip.compress(b'{"id": "' + v + b'"}'),
    "protobuf": lambda v: b"\x0a" + bytes([len(v)]) + v + b"\x10\x01",
    "protobuf after a control byte": lambda v: b"\x12" + bytes([len(v) + 2]) + b"\x0a" + bytes([len(v)]) + v,
    "JSON in JSON": lambda v: json.dumps({"inner": json.dumps({"imei": v.decode()})}).encode(),
    "JSON escape": lambda v: b'{"imei": "' + b"".join(b"\\u%04x" % c for c in v) + b'"}',
    "JSON after white space": lambda v: b'{"a": "  {\\"i\\": ' + v + b'}"}',
    "hex": lambda v: v.hex().encode(),
    "upper hex": lambda v: v.hex().upper().encode(),
    "base64 line-broken": lambda v: base64.encodebytes(v * 8),
    "url-safe base64": lambda v: base64.urlsafe_b64encode(b"\xfb\xff" + v * 3),
}


@pytest.mark.parametrize("name", sorted(_HIDDEN))
@pytest.mark.parametrize("ctype", ["application/json", "application/octet-stream", "text/plain",
                                   "application/x-www-form-urlencoded", ""])
def test_an_identifier_behind_a_decoder_is_never_called_quiet(name: str, ctype: str) -> None:
    body = _HIDDEN[name](h.IMEI.encode())
    headers = {"Content-Type": ctype} if ctype else {}
    flow = make_flow(body, headers=headers)
    if ctype == "":  # the walker finds each of them in a body that declares nothing
        assert _WALKER.analyze(flow).findings
    _same(flow)  # where the walker finds it, the prover leaves it to the walker


@pytest.mark.parametrize("name", sorted(_HIDDEN))
def test_a_decoys_trace_alone_is_judged_as_the_walker_judges_it(name: str) -> None:
    # the same encodings of a value that is no identifier: the prover may answer, and must agree
    body = _HIDDEN[name](b"000000000000000")
    for ctype in ("application/json", "application/octet-stream", "text/plain"):
        _same(make_flow(body, headers={"Content-Type": ctype}))


_PIECES = st.sampled_from([
    b"{", b"}", b"[", b"]", b'"', b":", b",", b" ", b"\n", b"=", b"&", b"%", b"%41", b"%2", b"%25", b"\\",
    b"\\u0041", b"abc", b"ABC", b"aZ", b"0123456789", b"+/", b"-_", b"\x00", b"\x08", b"\x1f\x8b\x08", b"\x78\x9c",
    b"\xff", b"\xc3\xa9", b"1e5", b"1.50", b"-3", b"true", b"null", b"NaN", b"Zm9vYmFyYmF6cXV4cXV1eA==",
    h.IMEI.encode(), h.IMEI.encode()[:10], base64.b64encode(h.IMEI.encode()), h.IMSI.encode(),
    h.WIFI_MAC.encode(), h.WIFI_MAC.replace(":", "").encode(), h.ANDROID_ID.encode(), b"59.91", b"10.75",
])

_CTYPES = st.sampled_from(["application/json", "text/plain", "application/octet-stream", "", "application/x-protobuf",
                           "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                           "Application/JSON; charset=utf-8", "application/vnd.api+json", "weird"])


def _wrapped(body: bytes, how: str) -> bytes:
    if how == "base64":
        return base64.b64encode(body)
    if how == "base64 lines":
        return base64.encodebytes(body)
    if how == "escaped":
        return urllib.parse.quote_from_bytes(body).encode()
    return body


#: the walker's limits, and some so tight that the generated bodies reach them
_LIMITS = [Limits(), Limits(max_base64_runs=1), Limits(max_base64_looked=2), Limits(max_depth=2),
           Limits(max_decoded=200), Limits(max_segments=40), Limits(max_nesting=2), Limits(max_fields=2)]


@functools.cache
def _pair(index: int) -> tuple[Analyzer, Analyzer]:
    limits = _LIMITS[index]
    return Analyzer(h.identity(), limits), Analyzer(h.identity(), limits, fast=False)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(_PIECES, max_size=40), ctype=_CTYPES, gzipped=st.booleans(),
       how=st.sampled_from(["", "base64", "base64 lines", "escaped"]),
       query=st.sampled_from(["", "?a=1&b=2", "?x=%41"]), limits=st.integers(0, len(_LIMITS) - 1))
def test_generated_requests_agree(pieces: list[bytes], ctype: str, gzipped: bool, how: str, query: str,
                                  limits: int) -> None:
    body = _wrapped(b"".join(pieces), how)
    headers = {"Content-Type": ctype} if ctype else {}
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    _same(make_flow(body, headers=headers, path="/collect" + query), *_pair(limits))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(st.tuples(st.integers(0, 5999), _PIECES | st.sampled_from([
           b"%2541", b"%%34", b"%4" + b"1", b"abcdefgh%49jklmnopqrstu", b"QUJD%52EVGR0hJSktMTU5P", b"%00", b"%1f%8b%08",
           b"%30" * 8, b"\"%20[", b"=%7B"])), max_size=12), control=st.booleans())
def test_escapes_in_a_long_binary_body_agree(pieces: list[tuple[int, bytes]], control: bool) -> None:
    # long enough that the copy's flags are told from windows around its escapes (unescaped_flags)
    body = bytearray(random.Random(len(pieces)).randbytes(6000).replace(b"%", b"_"))
    if not control:
        body = bytearray(bytes(body).translate(bytes(range(256)), bytes(range(32))))
    for at, piece in sorted(pieces, reverse=True):
        body[at:at] = piece
    _same(make_flow(bytes(body), headers={"Content-Type": "application/octet-stream"}))


_FIELD_VALUES = st.sampled_from([
    h.IMEI, h.IMSI, h.ICCID, h.ANDROID_ID, h.SERIAL, "0.5", "12345", "abcdefabcdefabcdefabcdef", "x" * 300,
    "aaaaaaaaaaaaaaaaaaaa", "A.b", "", "%zz", "a=b", "[1]", "{}", " ", "+", "%41", h.IMEI + "0", "0" + h.IMEI,
    h.IMEI[:8], "zz" + h.ANDROID_ID, "\u00e9t\u00e9", "tab\there", "AbCdEfGhIjKlMnOpQr",
])


_KEYS = st.sampled_from(["k", "device", "a.b", "x[0]", "", "é", "k%41", "id", "k" * 64, "k" * 65])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=st.lists(st.tuples(_KEYS, _FIELD_VALUES, st.booleans()), min_size=1, max_size=30),
       extra=st.sampled_from(["", "&", "&&", "&lone", "&=v"]), declared=st.booleans())
def test_generated_forms_agree(fields: list[tuple[str, str, bool]], extra: str, declared: bool) -> None:
    body = "&".join(f"{key}={value}" if with_value else key for key, value, with_value in fields) + extra
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if declared else {}
    _same(make_flow(body.encode(), headers=headers))


@settings(max_examples=200, deadline=None)
@given(documents=st.lists(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20), min_size=1, max_size=3), ascii_only=st.booleans(), declared=st.booleans())
def test_generated_json_agrees(documents: list[object], ascii_only: bool, declared: bool) -> None:
    body = b"".join(json.dumps(doc, ensure_ascii=ascii_only).encode() for doc in documents)
    _same(make_flow(body, headers={"Content-Type": "application/json" if declared else "text/plain"}))


def test_tight_limits_are_left_to_the_walker_or_agree() -> None:
    rng = random.Random(5)
    for limits in (Limits(max_segments=50), Limits(max_decoded=1000), Limits(max_depth=1), Limits(max_nesting=1),
                   Limits(max_json_bytes=100), Limits(max_protobuf_bytes=10), Limits(max_base64_runs=0),
                   Limits(max_base64_runs=1), Limits(max_base64_looked=1), Limits(max_fields=3)):
        fast, walker = Analyzer(h.identity(), limits), Analyzer(h.identity(), limits, fast=False)
        hashes = b" ".join(os.urandom(12).hex().encode() for _ in range(3)) + b" aGVsbG8gd29ybGQgaGVsbG8K zz"
        hex_only = hashes.split(b" a")[0]  # runs of one case: looked at (and counted), never decoded
        for body, headers in [(b, hd) for _kind, b, hd in _bodies(rng)] + [(hashes, {}), (hex_only, {}),
                                                                      (b"\x01" + hex_only, {})]:
            _same(make_flow(body, headers=headers, path="/c?a=1&b=2&c=3&d=4"), fast, walker)


def test_the_real_captures_agree() -> None:
    flows = [flow for path in sorted(h.DATA.glob("*.har")) for flow in read_capture(path).flows]
    assert flows
    for flow in flows:  # their URLs carry tokens (Base64 runs of both cases): the walker takes them
        _same(flow)
    # their bodies behind a plain head: loud too (tokens, %XX), but compared wherever the prover answers
    for flow in flows:
        _same(make_flow(flow.request.content, headers={"Content-Type": flow.request.header("content-type") or ""}))


@pytest.mark.parametrize("headers", [
    {"X-Name": "café", "Content-Type": "text/plain"},
    {"X-Raw": "caf\udce9", "Content-Type": "text/plain"},  # a byte that was not UTF-8 (surrogateescape)
    {"Content-Type": "Text/Plain ; charset=\"utf-8\""},
    {"Content-Type": "json"},  # no '/': email calls it text/plain
    {"Content-Type": "application/json\t"},
    {"content-type": "application/json", "Content-Type": "text/plain"},  # the first one counts
    {"Content-Encoding": "GZIP", "Content-Type": "application/json"},
    {"Content-Encoding": "gzip, identity", "Content-Type": "application/json"},
])
def test_odd_heads_agree(headers: dict[str, str]) -> None:
    rng = random.Random(6)
    for identifier in (None, h.IMEI):
        body = _document(rng, identifier) * 2
        if "gzip" in headers.get("Content-Encoding", "").lower():
            body = gzip.compress(body)
        _same(make_flow(body, headers=headers, path="/c?q=caf%C3%A9"))
        _same(make_flow(body, headers=headers, host="bücher.example"))
