"""traces (devicelab/analysis/_c/traces.c) answers what hyperscan answers: whether each of prefilter.py's trace
patterns matches anywhere in a value (each pattern alone, in block mode), and where each %XX starts. The quiet
path trusts its "no", so every test runs on the vector path and the scalar one."""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from functools import cache, partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devicelab.analysis import _fastpath, prefilter
from devicelab.analysis.matcher import hyperscan

pytestmark = pytest.mark.skipif(hyperscan is None, reason="the reference is hyperscan")

# traces.c's own bits (fastpath.h): the second looks' patterns, and bytes >= 0x80
MIXED = 1 << 16
SPACED_JSON = 1 << 17
HIGH = 1 << 18

#: each pattern traces answers for, with its bit
PATTERNS: tuple[tuple[bytes, int], ...] = (
    *prefilter._TRIGGERS,
    *prefilter._TRACES,
    (prefilter._RUN, prefilter.RUN),
    (prefilter._MIXED_RUN, MIXED),
    (prefilter._SPACED_JSON, SPACED_JSON),
    (rb"[\x80-\xff]", HIGH),
)
NAMES = {prefilter.PCT: "PCT", prefilter.ESC: "ESC", prefilter.CTRL: "CTRL", prefilter.SNIFF: "SNIFF",
         prefilter.NESTED: "NESTED", prefilter.UPPER: "UPPER", prefilter.LOWER: "LOWER",
         prefilter.SPACED: "SPACED", prefilter.RUN: "RUN", MIXED: "MIXED", SPACED_JSON: "SPACED_JSON", HIGH: "HIGH"}
ESCAPE = rb"%[0-9A-Fa-f]{2}"
#: bytes that make every pattern likely: each trace's bytes, both cases, white space, binary
ALPHABET = b'Aa0+/_-\r\n %"={[\\\x1f\x8b\x08\x28\xb5\x2f\xfd\x78\x01\x9c\xda \t+zZ9\x00\x80\xff.Fg}'
#: characters of the Base64 alphabet, of both cases (a run of them is also a _MIXED_RUN)
RUN = b"Ab0+/_-Zz9"


def _database(pattern: bytes, flags: int) -> Any:
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=[pattern], ids=[0], elements=1, flags=[flags])
    return db


@cache
def _references() -> tuple[list[tuple[Any, int]], Any]:
    single = hyperscan.HS_FLAG_SINGLEMATCH
    return [(_database(pattern, single), bit) for pattern, bit in PATTERNS], _database(ESCAPE, 0)


def _matches(db: Any, data: bytes) -> bool:
    hits: list[int] = []

    def on_match(_id: int, _start: int, end: int, _flags: int, _context: Any) -> bool:
        hits.append(end)
        return True  # one is enough

    with contextlib.suppress(hyperscan.ScanTerminated):
        db.scan(data, match_event_handler=on_match)
    return bool(hits)


def reference(data: bytes) -> tuple[int, list[int]]:
    """hyperscan's answer: the bit of every pattern that matches somewhere, and where each %XX starts."""
    databases, escape = _references()
    flags = 0
    for db, bit in databases:
        if _matches(db, data):
            flags |= bit
    starts: list[int] = []

    def on_escape(_id: int, _start: int, end: int, _flags: int, _context: Any) -> None:
        starts.append(end - 3)

    escape.scan(data, match_event_handler=on_escape)
    return flags, starts


def _names(flags: int) -> str:
    return " ".join(name for bit, name in NAMES.items() if flags & bit) or "none"


def traces(data: bytes) -> tuple[int, list[int]]:
    """_fastpath.traces, typed (the C module has no stub)."""
    answer: tuple[int, list[int]] = _fastpath.traces(data)
    return answer


def check(data: bytes) -> tuple[int, list[int]]:
    """traces agrees with hyperscan on `data` (on the path the fixture chose); its answer."""
    got, want = traces(data), reference(data)
    if got[0] != want[0]:
        raise AssertionError(f"{len(data)} bytes: traces says {_names(got[0] & ~want[0])} wrongly and misses "
                             f"{_names(want[0] & ~got[0])}: {data[:200]!r}")
    assert got[1] == want[1], f"escapes of {len(data)} bytes: {data[:200]!r}"
    return got


@pytest.fixture(params=["vector", "scalar"], autouse=True)
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs on both paths; the vector one is restored after."""
    if request.param == "vector" and not _fastpath.force_scalar(False):
        pytest.skip("no vector path on this processor")
    _fastpath.force_scalar(request.param == "scalar")
    yield request.param
    _fastpath.force_scalar(False)


# the fixture chooses the path once per test: no example changes it
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@EXAMPLES
@given(st.lists(st.sampled_from(ALPHABET), max_size=300).map(bytes))
def test_values_of_the_traces_bytes_agree(data: bytes) -> None:
    check(data)


@EXAMPLES
@given(st.binary(max_size=300))
def test_random_values_agree(data: bytes) -> None:
    check(data)


@EXAMPLES
@given(st.lists(st.sampled_from([b"%4a", b"%g1", b'"[', b'= \t{', b'" x', b"x\x01", b"x\x00", b"\x1f\x8b\x08",
                                 b"(\xb5/\xfd", b"aB", b"A\r\n9b", b"A.b", RUN * 2, b"lorem ", b"\x00", b"\x80"]),
                max_size=60).map(b"".join))
def test_values_of_traces_and_near_misses_agree(data: bytes) -> None:
    check(data)


def test_every_byte_in_every_trace() -> None:
    # each byte alone and in each place of each trace, inside a block and across the first block's end
    for value in range(256):
        byte = bytes([value])
        for trace in (byte, b"x" + byte, b'"' + byte + b"[", b"=" + byte, b"%" + byte + b"1", b"%1" + byte,
                      b"A" + byte + b"b", b"a" + byte + b"B", b"\x1f" + byte + b"\x08", b"\x1f\x8b" + byte,
                      b"(" + byte + b"/\xfd", b"(\xb5" + byte + b"\xfd", RUN[:8] + byte + RUN[:7]):
            for at in (0, 62, 63):
                check(b"." * at + trace + b"...")


def test_the_empty_value_has_no_trace() -> None:
    assert check(b"") == (0, [])


@pytest.mark.parametrize("size", [15, 16, 17, 40])
def test_a_run_at_every_offset_around_the_blocks(size: int) -> None:
    run = (RUN * 5)[:size]
    for length in (130, 191, 200):
        for at in range(length - size + 1):
            flags, _ = check(b"." * at + run + b"." * (length - size - at))
            assert bool(flags & prefilter.RUN) == (size >= 16)


def test_runs_around_the_chunks_and_the_end() -> None:
    # the vector path looks at what is found every 1024 bytes, and reads the last block from a copy
    for length in (1100, 2112, 3000):
        for at in [*range(1000, 1040), *range(2040, 2090), *range(length - 20, length - 14)]:
            for size in (15, 16):
                if at + size <= length:
                    check(b"." * at + (RUN * 2)[:size] + b"." * (length - at - size))
    # 8 alphabet bytes at a multiple of 8 in most blocks, runs of 15: the check then looks at every block
    words = b"abcdefghijklmno " * 400
    assert not check(words)[0] & prefilter.RUN
    assert check(words + b"abcdefghijklmnop")[0] & prefilter.RUN


def test_a_trace_across_every_block_boundary_as_the_gate_comes_and_goes() -> None:
    # text skips the traces of several bytes where it has none of their first bytes, until too many blocks have
    # one: the quotes give that gate up in the first chunk of 1024 bytes, and it is tried again 8 chunks later
    text = (b'"a lorem ipsum ' * 100 + b"lorem ipsum dolor sit amet " * 500)[:12000]
    for boundary in range(64, len(text), 64):
        for trace in (b'"[', b"%41", b"x\x01"):
            at = boundary - 1
            check(text[:at] + trace + text[at + len(trace):])


def test_an_escape_across_a_block_boundary_and_at_the_end() -> None:
    for at in [*range(0, 4), *range(28, 36), *range(60, 68), *range(124, 132), *range(1020, 1030)]:
        for length in (at + 3, at + 4, 70, 140, 1100):
            if at + 3 <= length:
                data = b"." * at + b"%4a" + b"." * (length - at - 3)
                assert check(data)[1] == [at]
    for end in (62, 63, 64, 65, 127, 128):
        assert check(b"." * (end - 2) + b"%4") == (0, [])  # one hex digit before the end
        assert check(b"." * (end - 3) + b"%4F")[1] == [end - 3]


def test_magic_cut_off_by_the_end_is_no_sniff() -> None:
    for end in range(58, 70):
        for cut, whole in ((b"\x1f\x8b", b"\x1f\x8b\x08"), (b"(\xb5/", b"(\xb5/\xfd"), (b"x", b"x\x01")):
            assert not check(b"." * (end - len(cut)) + cut)[0] & prefilter.SNIFF
            assert check(b"." * (end - len(cut)) + whole)[0] & prefilter.SNIFF


@pytest.mark.parametrize("look_alike", [
    RUN[:10] + RUN[:5] + b".",  # 15 of the alphabet
    b"%4G", b"%G4", b"%%41",  # (%41 after a '%')
    b'"a', b"=b", b'"\x0e{', b"= x{",  # a quote, then something else
    b"x\x00", b"x\x02", b"y\x01", b"X\x01",  # 0x7800 % 31 != 0
    b"\x1f\x8b\x09", b"\x1e\x8b\x08", b"(\xb5/\xfe", b"\x28\xb5\x2e\xfd",
    b"A.b", b"A b", b"a=B", b"A\t9b", b"AB12", b"ab-_",  # letters of both cases with a break between
    b"\x1b", b"\x7f", b"\x09\x0d", b"[]{}",  # no control byte, no byte >= 0x80
])
def test_look_alikes(look_alike: bytes) -> None:
    for at in (0, 30, 62, 63, 64, 127, 1030):
        for after in (0, 1, 70):
            check(b"." * at + look_alike + b"." * after)


def test_every_length_of_a_value_of_every_trace() -> None:
    rich = (b'Ab0+/_-Zz9cdEF%41"[x\x01\x1f\x8b\x08= \t{(\xb5/\xfdA\r\n9b\\\x00\x80' * 6)
    for length in range(len(rich) + 1):
        check(rich[:length])
        check(rich[len(rich) - length:])


def _segments(rng: random.Random) -> bytes:
    """A value of pieces that turn the vector path's loops on and off: text, binary, traces, runs, escapes."""
    pieces = []
    for _ in range(rng.randrange(1, 10)):
        size = rng.choice([1, 15, 16, 17, 63, 64, 65, 200, 1500, 3000])
        kind = rng.randrange(8)
        if kind == 0:
            pieces.append(rng.randbytes(size))
        elif kind == 1:
            pieces.append((b"lorem ipsum dolor sit amet " * (size // 27 + 1))[:size])
        elif kind == 2:
            pieces.append(bytes(rng.choice(ALPHABET) for _ in range(size)))
        elif kind == 3:
            pieces.append(bytes(rng.choice(RUN) for _ in range(size)))
        elif kind == 4:
            pieces.append(rng.choice([b'"[', b"= {", b'"\t\n [', b"%4a", b"%zz", b"x\x01", b"\x1f\x8b\x08",
                                      b"(\xb5/\xfd", b"aB", b"A\r\n9b", b"\\", b"\x00", b"\x80"]))
        elif kind == 5:
            pieces.append(bytes(rng.choice(b"%%%%0123456789abcdefABCDEFgz") for _ in range(size)))
        elif kind == 6:
            pieces.append(bytes(rng.choice(b'"= \t\n[{xa') for _ in range(size)))
        else:
            pieces.append(b"." * size)
    return b"".join(pieces)


@pytest.mark.parametrize("seed", range(8))
def test_long_values_of_many_kinds_agree(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(12):
        check(_segments(rng))


def _html() -> bytes:
    return b"".join(b'<div class="item-%d" id="n%d"><a href="/p/%d">Item %d</a></div>\n' % (i, i, i, i)
                    for i in range(1500))


def _escapes() -> bytes:
    rng = random.Random(2)
    return b"".join(b"%%%02X" % rng.randrange(256) for _ in range(22000))


def _json() -> bytes:
    return json.dumps([{"userId": i, "name": f"user{i}", "tags": ["a", "b"], "ok": True} for i in range(1000)],
                      indent=1).encode()


@pytest.mark.parametrize("make", [
    lambda: random.Random(1).randbytes(65536),
    lambda: b"lorem ipsum dolor sit amet " * 2000,
    _escapes,  # nothing else
    _html,  # a quote before white space in most blocks
    _json,
    lambda: b"HELLO world. " * 5000,  # both cases, no mixed run: the second look reads it all
    lambda: b"lorem ipsum " * 3000 + b'"x": [' + b"dolor " * 3000 + b"x\x9c",  # traces late, after the gate
])
def test_bodies_agree(make: Callable[[], bytes]) -> None:
    check(make())


def _best_us(call: Callable[[], object], runs: int = 300) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        best = min(best, time.perf_counter_ns() - start)
    return best / 1000


def _hyperscan_pass(gate: prefilter.Gate, db: Any, bits: list[int], data: bytes) -> int:
    """The flags of one of the gate's databases over `data`, as Gate.probe scans it."""
    found: list[Any] = [0, bits]
    db.scan(data, match_event_handler=prefilter._flag, context=found, scratch=gate._scratch()[id(db)])
    flags: int = found[0]
    return flags


@pytest.mark.bench
def test_bench_traces_against_the_hyperscan_passes(path: str) -> None:
    """traces in place of the gate's traces, run and escape passes (prefilter.Gate): the same answers, and the
    time of each per call (printed: nothing is asserted of it)."""
    gate = prefilter.Gate([])
    passes = {"traces": (gate._traces, gate._trace_bits), "run": (gate._run, [prefilter.RUN])}
    bodies = {"64 KB random": os.urandom(65536), "54 KB text": b"lorem ipsum dolor sit amet " * 2000}
    print(f"\ntraces ({path} path) against the hyperscan passes it replaces, best of 300 calls:")
    for name, data in bodies.items():
        flags, escapes = traces(data)
        multi = prefilter.PCT | prefilter.SNIFF | prefilter.NESTED | prefilter.SPACED
        assert flags & multi == _hyperscan_pass(gate, *passes["traces"], data)
        assert flags & prefilter.RUN == _hyperscan_pass(gate, *passes["run"], data)
        assert escapes == gate.escapes(data)
        ours = _best_us(partial(traces, data))
        theirs = {label: _best_us(partial(_hyperscan_pass, gate, db, bits, data))
                  for label, (db, bits) in passes.items()}
        theirs["escapes"] = _best_us(partial(gate.escapes, data))
        print(f"  {name:13} traces {ours:6.2f} us   hyperscan "
              + "  ".join(f"{label} {us:6.2f}" for label, us in theirs.items())
              + f"  (sum {sum(theirs.values()):6.2f} us)")
