"""The parsers' fast paths say exactly what the slow ones say (the notes quote them)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devicelab.analysis.structured import extra_data, parse_json, parse_json_rendered


def _json_says(data: bytes) -> str | None:
    """json's error for `data` (what a note quotes), or None when it reads it."""
    try:
        json.loads(data)
    except RecursionError:
        return "recursion"
    except ValueError as exc:
        return str(exc)
    return None


_DOCS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12)
#: the bytes JSON is made of, and some it is not
_JSONISH = st.text(alphabet='{}[]",:0123456789.eE+-truefalsnNI \n\t\r\x0c\\/u\x00\xe9\U0001f600\ud800',
                   max_size=24)


@settings(max_examples=400, deadline=None)
@given(first=_DOCS, rest=_JSONISH, white=st.sampled_from(["", " ", "\n", "\r\n\t "]))
def test_extra_data_is_jsons_own_error(first: object, rest: str, white: str) -> None:
    data = (json.dumps(first) + white + rest).encode("utf-8", "surrogatepass")
    told = extra_data(data)
    if told is not None:
        assert told == _json_says(data)


@settings(max_examples=400, deadline=None)
@given(_JSONISH)
def test_extra_data_on_anything_json_ish(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    told = extra_data(data)
    if told is not None:
        assert told == _json_says(data)


@pytest.mark.parametrize("data", [
    b'{"a": 1}{"a": 1}', b"[1] [2", b"{}\n\n{}", b"truex", b'{"a":1}}', b"1 2", b"{}\x0c",
    b"123456789012345678901234567890 1",  # orjson makes the integer a float: the error is the same
    '{"\u00e9\\n": ["\U0001f600"]}\n {}'.encode(),  # characters, not bytes, counted as json counts them
])
def test_one_document_and_more_is_told_without_json(data: bytes) -> None:
    told = extra_data(data)
    assert told is not None
    assert told == _json_says(data)
    with pytest.raises(ValueError, match="Extra data") as raised:
        parse_json(data)
    assert str(raised.value) == _json_says(data)
    with pytest.raises(ValueError, match="Extra data"):
        parse_json_rendered(data)


@pytest.mark.parametrize("data", [
    b"1\x00\x00\x00",  # UTF-32 to json: the number 1
    b"\xef\xbb\xbf{} x",  # a BOM
    b"{} x\xff", b'{"a": "\xed\xa0\x80"} x',  # not UTF-8 (json reads an encoded surrogate): json's own error
    b"[" * 600 + b"]" * 600 + b"x",  # nested past what json reads
    # so is one whose brackets come after 1,500 two-byte characters (orjson's position counts characters)
    b'["' + "\u00e9".encode() * 1500 + b'", ' + b"[" * 600 + b"]" * 601 + b"x",
    b"NaN x", b"1.", b"01", b"[1,]",
])
def test_json_decides_where_orjson_differs(data: bytes) -> None:
    assert extra_data(data) is None


def _bbpb_refuses(data: bytes) -> bool:
    import blackboxprotobuf

    try:
        blackboxprotobuf.decode_message(data)
    except Exception:  # bbpb raises many types; every one is a refusal
        return True
    return False


def _field(number: int, wire: int, payload: bytes) -> bytes:
    from devicelab.analysis.numeric import varint

    return varint(number << 3 | wire) + payload


_FIELDS = st.one_of(
    st.builds(lambda n, v: _field(n, 0, v), st.integers(0, 40), st.binary(min_size=1, max_size=11)),
    st.builds(lambda n, v: _field(n, 1, v), st.integers(0, 40), st.binary(min_size=6, max_size=10)),
    st.builds(lambda n, v: _field(n, 5, v), st.integers(0, 40), st.binary(min_size=2, max_size=6)),
    st.builds(lambda n, v, extra: _field(n, 2, bytes([len(v) + extra]) + v), st.integers(0, 40),
              st.binary(max_size=20), st.integers(-2, 2).filter(lambda e: e >= 0)),
    st.builds(lambda n, w: _field(n, w, b""), st.integers(0, 40), st.sampled_from([3, 4, 6, 7])),
    st.binary(max_size=4),
)


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.binary(max_size=64), st.lists(_FIELDS, max_size=6).map(b"".join)))
def test_unframed_bytes_are_what_bbpb_refuses(data: bytes) -> None:
    from devicelab.analysis.structured import unframed

    if unframed(data):
        assert _bbpb_refuses(data)


def test_a_refused_document_leaves_no_reference_cycle() -> None:
    # json's error, when orjson tells it, is raised where it is made: held in a local of the frame it is raised
    # from, it would keep that frame (and the body) alive until a collection, and collections slowed every flow
    import gc

    gc.collect()
    gc.disable()
    try:
        for _ in range(10):
            with pytest.raises(ValueError, match="Extra data"):
                parse_json_rendered(b'{"a": 1}{"a": 2}')
        assert gc.collect() == 0
    finally:
        gc.enable()
