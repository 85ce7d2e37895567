"""_fastpath.json_read says what Python's json says of a document (structured.parse_json and
parse_json_rendered), or that it is unsure; never anything else.

The C quiet path trusts it in place of those calls: a wrong WHOLE, EXTRA or INVALID could hide a finding or
change a note, so every answer it gives is checked against Python's, and the plain documents (no escapes, no
NaN, valid UTF-8, not too deep) must be answered.
"""

from __future__ import annotations

import json
import random
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devicelab.analysis import _fastpath, structured

UNSURE, WHOLE, EXTRA, INVALID = 0, 1, 2, 3


def _python(data: bytes) -> tuple[int, object]:
    """What Python says: (WHOLE, (container, same)), (EXTRA, the message) or (INVALID, None)."""
    try:
        doc, same = structured.parse_json_rendered(data)
    except ValueError as exc:
        if str(exc).startswith("Extra data"):
            return EXTRA, str(exc)
        return INVALID, None
    return WHOLE, (isinstance(doc, dict | list), same)


def _check(data: bytes, *, plain: bool = False) -> int:
    """json_read's status for `data`, asserted to be Python's unless UNSURE (and not UNSURE when plain)."""
    status, container, same, at, line, column = _fastpath.json_read(data)
    assert status in (UNSURE, WHOLE, EXTRA, INVALID)
    if plain:
        assert status != UNSURE, data
    if status == UNSURE:
        return UNSURE
    expected, detail = _python(data)
    assert status == expected, (data, status, detail)
    if status == WHOLE:
        assert (bool(container), bool(same)) == detail, data
        json.loads(data)
        structured.parse_json(data)
    elif status == EXTRA:
        message = f"Extra data: line {line} column {column} (char {at})"
        assert message == detail, data
        with pytest.raises(ValueError) as raised:
            structured.parse_json(data)
        assert str(raised.value) == message
    else:
        with pytest.raises(ValueError):
            json.loads(data)
    return int(status)


def _bench_doc(seed: int = 7) -> bytes:
    """About 1.5 KB: 40 keys of random floats (repr: 16 or 17 digits), integers below 1e9 and 24-digit hex."""
    rnd = random.Random(seed)
    doc: dict[str, object] = {}
    for i in range(40):
        kind = i % 3
        doc[f"device_param_{i:02d}"] = (rnd.random() if kind == 0 else rnd.randrange(10**9) if kind == 1
                                        else f"{rnd.getrandbits(96):024x}")
    return json.dumps(doc).encode()


# ---- the plain cases: each must be answered, and as Python answers ----

PLAIN = [
    b'{"a": 1, "b": [true, false, null], "c": "x"}', b"[]", b"{}", b" [ ] ", b"[[]]", b"[{}]", b'{"a":{}}',
    b'"abc"', b'""', b"true", b"false", b"null", b" \t\n\rnull\r\n\t ", b"0", b"-0", b"123", b"-123",
    b"123456789012345678901234567890", b'{"a": 1, "a": 2}', b'["\x7f", "~"]',
    b'[[[[[1]]], {"x": [2, {"y": [3]}]}]]', b'{"k": [1, [2, [3, [4, {"d": "e"}]]]]}',
    '{"név": "Zoë", "日本": "語", "emoji": "😀", "€": ["ü"]}'.encode(),
    '  "中文"  '.encode(),
    # concatenated documents
    b'{"a":1}{"b":2}', b"[1] [2]", b"1 2", b'"a""b"', b"{}\n{}\n", b"null null", b"true,", b"[1]]",
    '{"é": 1}\n\n  {"ü": 2}'.encode(), '["日本"]\r\n["語"]'.encode(), '["é",\n "ü", "日本😀"]  x'.encode(),
    '\n\n"😀"\n "€"'.encode(), b"[1]x", b"1\x0b", b'{"a":1}\x00',
    # json's scanner takes the longest number: what follows is extra data
    b"01", b"1.", b"1e", b"1e+", b"-01", b"1.e5", b"nullx", b"truex", b"0x10", b"[1]\n\n\n   ]",
    # numbers of every shape
    b"1.50", b"1e5", b"1E+05", b"0.0001", b"0.00001", b"123456789012345678", b"1.0000000000000002",
    b"1.0000000000000003", b"-0.0", b"0.0", b"0.000", b"1e400", b"-1e400", b"5e-324", b"1.7976931348623157e308",
    b"0.1", b"0.30000000000000004", b"0.29999999999999999", b"100.0", b"100.00", b"1e-7", b"2.5e-05",
    b"9007199254740993.0", b"9999999999999999.0", b"10000000000000000.0", b"739898574739930.8",
    b"0.8444218515250481", b"[-1.5, -2, 3]", b"1e+16", b"1.0e16", b"-1E-5", b"0e0", b"0.0e5",
    b"0." + b"0" * 400 + b"1", b"1" * 640, b"0." + b"1" * 100, b"[" + b", ".join([b"0.5"] * 200) + b"]",
]

# look-alikes of JSON: never WHOLE (json refuses them, or reads a prefix and says "Extra data")
NOT_WHOLE = [
    b"01", b"1.", b".5", b"+1", b"[1,]", b'{"a":1,}', b"tru", b"nul", b"[1 2]", b'"abc', b'{"a" 1}', b"\x0b[]",
    b"", b"   ", b"-", b"-a", b"[", b"{", b'{"a"}', b'{"a":}', b"[,1]", b'{,"a":1}', b"{1:2}", b"1e", b"'a'",
    b'"a\tb"', b'"a\nb"', b'"abc\x00"', b"[1}", b'{"a":1]', b"\x0c1", b"fals", b"nulll",
]


@pytest.mark.parametrize("data", [*PLAIN, _bench_doc(), _bench_doc() * 8, _bench_doc(3) + b"\n" + _bench_doc(4)])
def test_plain_documents_are_answered_as_python_answers(data: bytes) -> None:
    _check(data, plain=True)


@pytest.mark.parametrize("data", NOT_WHOLE)
def test_look_alikes_are_never_whole(data: bytes) -> None:
    assert _check(data, plain=True) != WHOLE


def test_the_bench_documents() -> None:
    one = _bench_doc()
    assert 1400 < len(one) < 1700
    assert _fastpath.json_read(one) == (WHOLE, 1, 1, 0, 0, 0)
    assert _fastpath.json_read(one * 8) == (EXTRA, 0, 0, len(one), 1, len(one) + 1)


def test_bytes_like_objects() -> None:
    data = '{"ü": [1.5]} [2]'.encode()
    told = _fastpath.json_read(data)
    assert told == _fastpath.json_read(bytearray(data)) == _fastpath.json_read(memoryview(data))
    assert told[0] == EXTRA
    with pytest.raises(TypeError):
        _fastpath.json_read(cast(Any, "text"))


# ---- outside the subset: UNSURE (or, where json certainly refuses, INVALID) ----

UNSURE_CASES = [
    b'"a\\nb"', b'["\\u00e9"]', b'{"a\\"b": 1}', b'"\\\\"',  # escapes
    b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 BOM: detect_encoding decodes it away
    b"\xff\xfe[\x00]\x00", b"\xfe\xff\x00[\x00]", b"[\x00]\x00", b"\x00[]", b"1\x00\x00\x00",  # UTF-16/32
    b"NaN", b"Infinity", b"-Infinity", b"[NaN]", b'{"a": Infinity}', b"[1, -Infinity]",
    b"[" * 501 + b"]" * 501, b"[" * 500 + b"[]" + b"]" * 500, b'{"a":' * 501 + b"1" + b"}" * 501,
    b'"\xed\xa0\x80"', b'["\xed\xbf\xbf"] 1', b"[1] \xed\xa0\x80",  # surrogates (surrogatepass reads them)
    b"1" * 641, b"[" + b"9" * 5000 + b"]",  # past int()'s digit limit: json.loads refuses, the hook does not
]


@pytest.mark.parametrize("data", UNSURE_CASES)
def test_outside_the_subset_is_unsure(data: bytes) -> None:
    assert _check(data) == UNSURE


@pytest.mark.parametrize("data", [
    b'"\xff"', b'["\xc3"]', b'"\xe4\xb8"', b'"\xc0\x80"', b'"\xe0\x80\x80"', b'"\xf4\x90\x80\x80"',
    b'"\xf8\x88\x80\x80\x80"', b"[1] \xff", b"[1] \xc3", '{"ü": 1}'.encode() + b"\n\x80", b'"a\x01"', b'"\x1f"',
])
def test_invalid_utf8_and_control_characters_are_never_read(data: bytes) -> None:
    assert _check(data) in (UNSURE, INVALID)


def test_nesting_up_to_the_limit() -> None:
    assert _check(b"[" * 500 + b"]" * 500, plain=True) == WHOLE
    assert _check(b'{"a":' * 499 + b"[]" + b"}" * 499 + b" 1", plain=True) == EXTRA
    assert _check(b"[" * 500 + b"]" * 499, plain=True) == INVALID


def test_many_floats_are_all_checked() -> None:
    floats = [repr(random.Random(i).random()) for i in range(300)]
    assert _check(("[" + ", ".join(floats) + "]").encode(), plain=True) == WHOLE
    assert _fastpath.json_read(("[" + ", ".join(floats) + "]").encode())[2] == 1
    floats[250] = "1.0000000000000003"  # past the first batches the reader defers
    assert _fastpath.json_read(("[" + ", ".join(floats) + "]").encode())[2] == 0
    assert _check(("[" + ", ".join(floats) + "] [1]").encode(), plain=True) == EXTRA


# ---- generated documents ----

_TEXT = st.text(max_size=8)  # no surrogates: they come with the garbage
_DOCS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20)
_DUMPS = st.fixed_dictionaries({
    "ensure_ascii": st.booleans(),
    "separators": st.sampled_from([None, (",", ":"), (", ", ": "), (" ,\n", " :\t")]),
    "indent": st.sampled_from([None, 0, 2, "\t", "\r\n"]),
})
#: what may follow a document: its bytes and some that are not JSON (NUL, \v, \f, a BOM, surrogates, escapes)
_GARBAGE = st.text(alphabet='{}[]",:0123456789.eE+-truefalsnNI \n\t\r\x0b\x0c\\/u\x00\x7f\xe9\ufeff\U0001f600\ud800',
                   max_size=24)
_WHITE = st.sampled_from(["", " ", "\n", "\r\n\t ", "\n\n"])


def _dump(doc: object, options: dict[str, object]) -> str:
    return json.dumps(doc, **options)  # type: ignore[arg-type]


def _plain(first: str, data: str) -> bool:
    """Inside json_read's subset: no escape in the first document, strict UTF-8, no NUL where
    detect_encoding looks."""
    if "\\" in first or "\x00" in data[:4]:
        return False
    try:
        data.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@settings(deadline=None, max_examples=300)
@given(doc=_DOCS, options=_DUMPS)
def test_generated_documents(doc: object, options: dict[str, object]) -> None:
    text = _dump(doc, options)
    data = text.encode("utf-8", "surrogatepass")
    status = _check(data, plain=_plain(text, text))
    if status != UNSURE:
        assert status == WHOLE


@settings(deadline=None, max_examples=300)
@given(first=_DOCS, second=_DOCS, options=_DUMPS, white=_WHITE, garbage=_GARBAGE, use_garbage=st.booleans())
def test_generated_documents_then_more(first: object, second: object, options: dict[str, object], white: str,
                                       garbage: str, use_garbage: bool) -> None:
    head = _dump(first, options)
    text = head + white + (garbage if use_garbage else _dump(second, options))
    _check(text.encode("utf-8", "surrogatepass"), plain=_plain(head, text))


@settings(deadline=None, max_examples=300)
@given(doc=_DOCS, options=_DUMPS, edits=st.lists(
    st.tuples(st.sampled_from(["delete", "insert", "replace"]), st.integers(0, 10**6), st.integers(0, 255)),
    min_size=1, max_size=3))
def test_mutated_documents(doc: object, options: dict[str, object], edits: list[tuple[str, int, int]]) -> None:
    data = bytearray(_dump(doc, options).encode("utf-8", "surrogatepass"))
    for edit, where, byte in edits:
        at = where % (len(data) + 1)
        if edit == "insert":
            data[at:at] = bytes([byte])
        elif at < len(data):
            data[at:at + 1] = b"" if edit == "delete" else bytes([byte])
    _check(bytes(data))


_TOKENS = [
    "1.50", "1e5", "1E+05", "0.0001", "0.00001", "123456789012345678", "1.0000000000000002", "-0.0", "1e400",
    "-1e400", "5e-324", "1.7976931348623157e308", "1.0000000000000003", "0.1", "2.5e-05", "1e16", "1e+16",
    "9999999999999998.0", "9999999999999999.0", "0.30000000000000004", "0.29999999999999999", "739898574739930.75",
    "739898574739930.8", "739898574739930.7", "4503599627370497.5", "0.000123456789012345678", "1e-400", "-0",
    "0.99999999999999999", "1.9999999999999999", "0.49999999999999997", "4503599627370495.5", "4503599627370496.5",
]


@settings(deadline=None, max_examples=300)
@given(x=st.floats(allow_nan=False, allow_infinity=False), hand=st.sampled_from(_TOKENS),
       shape=st.from_regex(r"-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,22})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
       tweak=st.sampled_from(["", "0", "00", "1", "5", "9", "chop"]))
def test_floats(x: float, hand: str, shape: str, tweak: str) -> None:
    for token in (repr(x), hand, shape):
        if tweak == "chop":
            token = token[:-1] if token[-2:-1].isdigit() else token
        elif "e" not in token.lower() and "." in token:
            token += tweak  # more digits than a double keeps, or trailing zeros
        for data in (token, f"[{token}]", f'{{"n": {token}}}', f"[{token}, {token}] {token}"):
            _check(data.encode(), plain=True)
