"""One gate pass over the parts of a parsed document or form: which of them a walk must visit.

A part none of whose spots lies in it is one the walker's `visit` finds nothing in and notes nothing
on; the walker visits the loud parts only and counts the quiet ones (Walker._counted).
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from devicelab.analysis import structured
from devicelab.analysis.base64_runs import LOWER_LETTER, UPPER_LETTER, decoded_runs
from devicelab.analysis.prefilter import CTRL, ESC, LAT, LON, NEEDLE, NESTED, PCT, RUN, SEPARATOR, SNIFF, Gate
from devicelab.analysis.segments import Limits

#: Shorter values inside a walked container are matched and decoded as they always were (measured: the
#: gate's pass and checks cost more than the decoders' regexes on a few dozen bytes).
GATED = 256
#: Documents and forms of fewer parts are walked part by part (one pass over them all costs more than it spares).
BATCH = 8
#: A part with one of these in it is visited (RUN: a Base64 run starts in it; NESTED: also JSON at its start).
_LOUD_PART = NEEDLE | PCT | ESC | CTRL | SNIFF | NESTED | RUN


@dataclass(frozen=True, slots=True)
class Parts:
    """What one gate pass over the parts of a document or form showed (quiet_parts)."""

    loud: frozenset[int]  # the parts (nodes of tree_nodes' order) with a needle or a decoder's trace in them
    located: bool  # a latitude and a longitude hint among them: the objects go to the locator
    decoded: dict[int, tuple[int, int]]  # quiet parts whose Base64 runs decode: how many, how many bytes


def loud_parts(nodes: list[structured.Node], gate: Gate, limits: Limits) -> Parts | None:
    """quiet_parts of a parsed document's strings and numbers (spelled as the walk scans them: str, and a
    negative one's unsigned twin), by node."""
    datas: list[bytes] = []
    owners: list[int] = []
    for index, (_parent, _key, value, too_deep) in enumerate(nodes):
        if not too_deep and isinstance(value, str):
            datas.append(value.encode("utf-8", "surrogatepass"))
            owners.append(index)
    numbers = len(datas)  # from here on numbers: the walk only scans them, a needle is all that counts
    for index, (_parent, _key, value, too_deep) in enumerate(nodes):
        if not too_deep and isinstance(value, int | float) and not isinstance(value, bool):
            datas.append(str(value).encode())
            owners.append(index)
            if isinstance(value, int) and -(2**63) <= value < 0:
                datas.append(str(value + 2**64).encode())
                owners.append(index)
    parts = quiet_parts(datas, numbers, gate, limits)
    if parts is None:
        return None
    return Parts(frozenset(owners[at] for at in parts.loud), parts.located,
                 {owners[at]: decoded for at, decoded in parts.decoded.items()})


def quiet_parts(datas: list[bytes], numbers: int, gate: Gate, limits: Limits) -> Parts | None:
    """Which of `datas` (values a walk visits; from `numbers` on, numbers it only scans) hold a needle or a
    decoder's trace, from one gate pass over them all (Gate.spots); None: too many spots.

    A value none of whose spots lies in it is one `visit` finds nothing in and notes nothing on: no needle,
    no decoder (compression, JSON, a form with a position, protobuf, Base64, %XX) that could reveal one.
    A short one with nothing but Base64 runs in it has them decoded here, and the decoded runs looked at in
    a second pass (binary that protobuf refuses at once is quiet too): `decoded` says how many and how
    many bytes, which its visit would count. `located`: a latitude and a longitude hint among them all.
    `limits`: the Base64 runs the walker decodes and looks at in one value (a value with more is visited, for its note).
    """
    seen = _spotted(gate, datas)
    if seen is None:
        return None
    # a long value is visited as it was: the gate's own look at it also weighs the limits (fields, runs)
    loud = {at for at in range(numbers) if len(datas[at]) >= GATED}
    decoded: dict[int, tuple[int, int]] = {}
    runs_of: dict[bytes, list[bytes] | None] = {}  # a document repeats its names: each decoded once
    blobs: dict[bytes, int] = {}  # each decoded run once, and its place in the second pass
    whose: list[tuple[int, int]] = []  # (part, decoded run)
    located = 0
    for at, bits in seen.items():
        located |= bits
        if at >= numbers:
            if bits & NEEDLE:
                loud.add(at)
        elif bits & _LOUD_PART & ~RUN or bits & (LAT | LON) == LAT | LON:
            loud.add(at)
        elif bits & RUN and at not in loud:
            data = datas[at]
            if not (UPPER_LETTER.search(data) and LOWER_LETTER.search(data)):
                continue  # no run of it has letters of both cases (hex, words): none is decoded
            if data in runs_of:
                got = runs_of[data]
            else:
                got = runs_of[data] = _decodes(data, limits)
            if got is None:
                loud.add(at)
                continue
            decoded[at] = (len(got), sum(map(len, got)))
            whose += ((at, blobs.setdefault(blob, len(blobs))) for blob in got)
    spotted = _spotted(gate, list(blobs))
    quiet = [not (bits & _LOUD_PART & ~CTRL or bits & (LAT | LON) == LAT | LON
                  # decoded runs are mostly binary (a control byte): offered to protobuf, which refuses most at once
                  or (bits & CTRL and not _unprotobuf(blob)))
             for blob, bits in ((blob, spotted.get(i, 0) if spotted is not None else _LOUD_PART)
                                for i, blob in enumerate(blobs))]
    for at, blob in whose:
        if not quiet[blob]:
            loud.add(at)
            decoded.pop(at, None)
    return Parts(frozenset(loud), located & (LAT | LON) == LAT | LON, decoded)


def _decodes(data: bytes, limits: Limits) -> list[bytes] | None:
    """The decoded Base64 runs of a short value, as its visit decodes them; None: it is visited instead
    (a form, whose fields are visited with their runs; or more runs than the walker decodes)."""
    if b"=" in data and structured.looks_like_form(data):
        return None
    got: list[bytes] = []
    for run in decoded_runs(data, limits.max_base64_runs, limits.max_base64_looked):
        if isinstance(run, str):
            return None
        got.append(run[1])
    return got


def _unprotobuf(data: bytes) -> bool:
    """Whether parse_protobuf refuses `data` without asking bbpb (as it does for what is not declared protobuf)."""
    return data[0] < 8 or structured.unframed(data)


def _spotted(gate: Gate, datas: list[bytes]) -> dict[int, int] | None:
    """{index: the flags spotted in it} of `datas`, looked at in one buffer (Gate.spots); None: too many."""
    if not datas:
        return {}
    starts = list(itertools.accumulate((len(data) + 1 for data in datas), initial=1))
    spots = gate.spots(SEPARATOR + SEPARATOR.join(datas), 64 + len(datas))
    if spots is None:
        return None
    seen: dict[int, int] = {}
    for end, bit in spots:
        at = max(bisect.bisect_right(starts, end - 1) - 1, 0)
        seen[at] = seen.get(at, 0) | bit
    return seen
