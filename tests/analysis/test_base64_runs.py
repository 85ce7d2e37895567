"""The walker's shortcuts give what its general paths give."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from devicelab.analysis.base64_runs import b64decode, one_run, run_spans

#: Base64 and what may break it into lines or runs
_BASE64ISH = st.text(alphabet="ABCXYZabcxyz0189+/-_=\r\n \t", max_size=80).map(str.encode)
_ENCODED = st.builds(lambda raw, lines, crlf: (base64.encodebytes(raw) if lines else base64.b64encode(raw))
                     .replace(b"\n", b"\r\n" if crlf else b"\n"), st.binary(max_size=120), st.booleans(), st.booleans())


@settings(max_examples=1000, deadline=None)
@given(st.one_of(_BASE64ISH, _ENCODED, st.tuples(_ENCODED, _BASE64ISH).map(b"".join)))
def test_one_run_is_what_the_runs_and_their_decoding_make_of_the_whole(data: bytes) -> None:
    whole = data.strip()
    one = one_run(whole)
    if one is not None:
        assert list(run_spans(data)) == [(len(data) - len(data.lstrip()), len(data.rstrip()))]
        assert one == b64decode(whole)


def test_a_line_broken_body_is_one_run() -> None:
    raw = bytes(range(256)) * 3
    for body in (base64.encodebytes(raw), base64.b64encode(raw)):
        assert one_run(body.strip()) == raw
    assert one_run(base64.encodebytes(raw).replace(b"\n", b"\r\n").strip()) is None  # CRLF: the general path
    assert one_run(b"QUJD" * 5 + b"\n==") is None  # the padding on a line of its own ends the run before it
    assert one_run(b"QUJD" * 5 + b"\n\nQUJD") is None  # so does an empty line
    assert one_run(b"QUJ-" * 5) is None  # the URL-safe alphabet: the runs are found as before
