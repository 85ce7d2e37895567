"""%XX escapes undone (what unquote_to_bytes makes of a value), and the gate's flags for the result."""

from __future__ import annotations

import re

from devicelab.analysis.prefilter import RUN, RUN_KNOWN, Gate

#: Without the gate, escapes are found and undone by this regex.
PERCENT = re.compile(rb"%[0-9A-Fa-f]{2}")
_HEX_BYTE = {b"%" + f"{a}{b}".encode(): bytes([int(a + b, 16)])
             for a in "0123456789ABCDEFabcdef" for b in "0123456789ABCDEFabcdef"}


def unescape(match: re.Match[bytes]) -> bytes:
    """PERCENT.sub's replacement: unquote_to_bytes without a Python step per '%'."""
    return _HEX_BYTE[match[0]]


def unescaped(data: bytes, starts: list[int]) -> bytes:
    """`data` with the %XX escapes at `starts` undone (what unquote_to_bytes makes of it)."""
    view = memoryview(data)  # slices of a view are not copies: the join copies each byte once
    pieces: list[bytes | memoryview] = []
    done = 0
    for start in starts:
        pieces += (view[done:start], _HEX_BYTE[data[start:start + 3]])
        done = start + 3
    pieces.append(view[done:])
    return b"".join(pieces)


def unescaped_flags(gate: Gate, decoded: bytes, starts: list[int], flags: int) -> tuple[int, list[int]] | None:
    """The gate's flags for `decoded` (`data`, of `flags`, with its %XX at `starts` undone) and where the escapes
    of `decoded` start, from a look near each escape only; None: escapes everywhere (URL-encoded text), where
    one full look is cheaper.

    Away from the escapes the two hold the same bytes, and a match is never longer than the gate's
    reach: what `data` shows plus what the windows show is all `decoded` can show.
    """
    reach = gate.reach
    if len(starts) * 2 * reach > len(decoded) // 2:
        return None
    seen = flags
    known = flags & RUN_KNOWN  # RUN is known for `decoded` if it is for `data` and every window
    escapes: list[int] = []
    for shift, start in enumerate(starts):
        at = start - 2 * shift  # where the escape's byte sits in `decoded`
        window = gate.probe(decoded[max(at - reach, 0):at + reach + 1])
        seen |= window
        known &= window
        # a %XX that `data` did not hold takes in this byte: it starts at most 2 bytes before it
        escapes += (max(at - 2, 0) + i for i in gate.escapes(decoded[max(at - 2, 0):at + 3]))
    seen = seen | RUN_KNOWN if seen & RUN or known else seen & ~RUN_KNOWN
    return seen, sorted(set(escapes))
