"""The gate (prefilter.py) only spares work: with it and without it (the Aho-Corasick engine has
none) the analysis finds and notes the same things."""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
from functools import cache
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devicelab.analysis.numeric import varint
from devicelab.analysis.prefilter import ESCAPES, PCT, Gate
from devicelab.analysis.scan import Analyzer, FlowAnalysis
from devicelab.model.traffic import Flow
from tests.analysis import helpers as h


@cache
def _ungated() -> Analyzer:
    return Analyzer(h.identity(), engine="aho")


def _both(flow: Flow) -> FlowAnalysis:
    gated, ungated = h.analyze(flow), _ungated().analyze(flow)
    assert h.analyzer().gate is not None
    assert _ungated().gate is None
    assert sorted(map(repr, gated.findings)) == sorted(map(repr, ungated.findings))
    assert sorted(gated.notes, key=repr) == sorted(ungated.notes, key=repr)
    return gated


def _binary(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size)).replace(b"%", b"\x00")  # escapes placed by hand


@pytest.mark.parametrize("split", [0, 3, 7, 14])
def test_an_imei_escaped_inside_a_large_binary_value_is_found_after_urldecode(split: int) -> None:
    imei = h.IMEI.encode()
    spelled = imei[:split] + quote_from_bytes(imei[split:split + 1], safe=b"").encode() + imei[split + 1:]
    if split == 0:  # every character escaped
        spelled = b"".join(b"%%%02X" % c for c in imei)
    body = _binary(40_000, split) + spelled + b"%41" + _binary(30_000, split + 1)
    result = _both(h.make_flow(body, headers={"Content-Type": "application/octet-stream"}))
    assert {f.decoders[:1] for f in result.findings if f.kind == "imei"} == {("urldecode",)}


def test_a_large_binary_value_without_a_needle_is_clean_with_or_without_escapes() -> None:
    body = _binary(70_000, 1) + b"%2F%zz%41" + _binary(1_000, 2)
    assert not _both(h.make_flow(body, headers={"Content-Type": "application/octet-stream"})).findings


def test_the_escape_pass_stands_in_for_the_traces_of_a_large_binary_value_only() -> None:
    gate = h.analyzer().gate
    assert isinstance(gate, Gate)
    binary = b"\x01" + os.urandom(20_000).replace(b"%", b"") + b"%41 and %4a"
    starts: list[int] = []
    flags = gate.probe(binary, starts)
    assert flags & ESCAPES
    assert flags & PCT
    assert starts == gate.escapes(binary) == [binary.index(b"%41"), binary.index(b"%4a")]
    text = b"lorem %41 ipsum " * 2_000
    starts = []
    flags = gate.probe(text, starts)
    assert not flags & ESCAPES  # text: every trace looked for, as before
    assert flags & PCT
    assert starts == []


@pytest.mark.parametrize("runs", [1000, 1001])
def test_more_than_the_base64_runs_decoded_is_noted_at_the_shortest_value_that_holds_them(runs: int) -> None:
    # each run: 16 characters of the alphabet with both cases (the runs the walker decodes), and one byte
    # that is not between runs (17 x runs - 1 bytes)
    body = b" ".join([b"qQqqqqqqqqqqqqqq"] * runs)
    notes = _both(h.make_flow(body, headers={"Content-Type": "text/plain"})).notes
    noted = [n.problem for n in notes if n.decoder == "base64"]
    assert noted == (["more than 1000 Base64 runs: rest not decoded"] if runs > 1000 else [])


def test_runs_the_walker_never_decodes_do_not_use_up_the_runs_it_decodes() -> None:
    # 1,500 hashes and long words (one case: never decoded), then an IMEI in Base64: nothing is left undecoded
    words = [b"0123456789abcdef0123456789abcdef", b"internationalization"] * 750
    body = b" ".join([*words, base64.b64encode(b"device " + h.IMEI.encode())])
    result = _both(h.make_flow(body, headers={"Content-Type": "text/plain"}))
    assert [n for n in result.notes if n.decoder == "base64"] == []
    assert [f.decoders for f in result.findings if f.kind == "imei"] == [("base64",)]


@pytest.mark.parametrize("runs", [20_000, 20_001])
def test_more_runs_than_the_walker_looks_at_is_noted(runs: int) -> None:
    body = b" ".join([b"qqqqqqqqqqqqqqqq"] * runs)  # one case: none is decoded, each is looked at
    notes = _both(h.make_flow(body, headers={"Content-Type": "text/plain"})).notes
    noted = [n.problem for n in notes if n.decoder == "base64"]
    assert noted == (["more than 20000 runs of the Base64 alphabet: rest not looked at"] if runs > 20_000 else [])


#: Parts of a JSON document that hold an identifier or a position, or only look like they might.
_PARTS = [
    h.IMEI, f"id:{h.IMEI}", base64.b64encode(h.IMEI.encode()).decode(), quote_from_bytes(h.IMEI.encode()),
    json.dumps({"imei": h.IMEI}), " [1, 2]", "a=1&b=" + h.IMEI, "59.9127,10.7461", "59.9127", "10.7461",
    "u4xsud", "GPExploreMapFragment", "ae1ad931c177067ffc6d8a95c78913ff", "lorem ipsum", "x\\y", "%41%42",
    base64.b64encode(gzip.compress(h.IMEI.encode())).decode(), "\x1f\x8b\x08", "",
    int(h.IMEI), -int(h.ANDROID_ID, 16) % 2**63 - 2**63, int(h.CELL_ID), 59.9127, 10.7461, 599127000, 107461000,
    -5, 1e300, 0.5, True, None, h.IMSI, h.SERIAL, h.WIFI_MAC,
    # Base64 runs the walker decodes: to bytes with nothing in them, or with an identifier in a binary form
    "camelCaseIdentifierWithDigits123", base64.b64encode(b"\x01\x02" + int(h.IMEI).to_bytes(8, "big") + b"\x03\x04"
                                                          ).decode(),
    base64.urlsafe_b64encode(b"\xfb\xff" + int(h.IMEI).to_bytes(8, "little") + b"\xfe\xfa").decode(),
    base64.b64encode(b"prefix " + h.IMEI.encode()).decode(), "k=" + base64.b64encode(b"\x00" * 14).decode(),
    # a protobuf message whose number is the cell ID (no binary form of it is a needle: only the parse finds it)
    base64.b64encode(b"\x08" + varint(int(h.CELL_ID)) + b"\x10\x01\x18\x02\x20\x03\x28\x04").decode(),
]


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.sampled_from(_PARTS),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["lat", "lon", "lng", "latitudeE7", "longitudeE7", "k", "imei", "m"]),
                        inner, max_size=4),
                    max_leaves=12),
       st.booleans())
def test_a_documents_parts_looked_at_in_one_pass_find_what_each_walked_finds(doc: object, escaped: bool) -> None:
    # an escape in the text makes the document loud: its parts are looked at one by one (parts.loud_parts)
    body = json.dumps({"e": "\\\"", "doc": doc} if escaped else doc).encode()
    for ctype in ("application/json", "text/plain"):
        _both(h.make_flow(body, headers={"Content-Type": ctype}))
    _both(h.make_flow(gzip.compress(body), headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["lat", "lon", "k", "imei", "q"]),
                          st.sampled_from([str(part) for part in _PARTS if part is not None])), max_size=12),
       st.booleans())
def test_a_forms_fields_looked_at_in_one_pass_find_what_each_walked_finds(fields: list[tuple[str, str]],
                                                                         query: bool) -> None:
    form = "&".join(f"{key}={quote_from_bytes(value.encode('utf-8', 'surrogatepass'))}" for key, value in fields)
    if query:
        _both(h.make_flow(path="/c?" + form, method="GET"))
    else:
        _both(h.make_flow(form.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}))


def test_a_long_part_is_weighed_against_the_limits_as_it_was() -> None:
    # a string of more fields than the walker reads is noted when visited: the parts' one pass must visit it
    fields = "&".join(["a=1"] * 10_001)
    analysis = _both(h.make_flow(json.dumps({"e": "\\\"", **{f"k{i}": "x" for i in range(8)}, "form": fields}).encode(),
                                 headers={"Content-Type": "application/json"}))
    assert [n.problem for n in analysis.notes if n.decoder == "form"]
