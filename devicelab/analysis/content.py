"""A request's body with its Content-Encoding undone, and bounded inflation with the note it leaves."""

from __future__ import annotations

from devicelab.analysis.compression import DecodeError, codec_name, inflate
from devicelab.analysis.segments import Note, short
from devicelab.model.traffic import Request

#: A body with its Content-Encoding undone: (encoded body or None, where, steps, data, content type).
Content = tuple[bytes | None, tuple[str, ...], tuple[str, ...], bytes, str]


def undo_content_encoding(request: Request, room: int) -> tuple[Content | None, list[Note], int]:
    """The body decoded as its Content-Encoding says (None: no body), the notes on decoding it, and how many
    bytes the decoding made of the `room` the walker has left."""
    data = request.content
    where: tuple[str, ...] = ("body",)
    steps: tuple[str, ...] = ()
    if not data:
        return None, [], 0
    ctype = request.header("content-type") or ""
    encoding = request.header("content-encoding") if request.content_encoded else None
    raw = None
    notes: list[Note] = []
    made = 0
    if encoding:
        raw = data
        for token in reversed(encoding.split(",")):  # the last encoding applied is undone first
            try:
                codec = codec_name(token)
            except KeyError:
                notes.append(Note(where, "content-encoding", f"unknown content-encoding {token.strip()!r}"))
                break
            if codec is None:
                continue
            inflated, problem = inflate_within(codec, data, room - made, declared=True)
            if problem is not None:
                notes.append(Note(where, codec, problem))
            if inflated is None:
                break
            made += len(inflated)
            data, where, steps = inflated, (*where, codec), (*steps, codec)
    return (raw, where, steps, data, ctype), notes, made


def inflate_within(codec: str, data: bytes, room: int, declared: bool) -> tuple[bytes | None, str | None]:
    """`data` decompressed by `codec` into at most `room` bytes (None: not decompressed), and the problem to
    note, if any; a failure is one only where the headers `declared` the codec (sniffed magic may be chance)."""
    if room <= 0:
        return None, "decode budget exhausted: not decompressed"
    try:
        result = inflate(codec, data, room)
    except DecodeError as exc:
        return None, f"could not decode: {short(exc)}" if declared else None
    if result.truncated:
        return result.data, f"output cut at {len(result.data)} bytes (compression bomb or budget)"
    if result.incomplete:
        return result.data, "stream ends early: decoded what it holds"
    return result.data, None
