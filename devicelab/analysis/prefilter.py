"""One hyperscan pass (of two databases) that says whether a value needs more than the matcher: the walker's fast path.

The walker decodes every value as far as it can; most values hold nothing to decode and no
needle. The gate scans a value once for every needle form (as a literal, any occurrence) and for
the traces a decoder needs before it can reveal something the raw bytes do not hold:

    NEEDLE  a needle form occurs (boundaries not checked: the matcher does that)
    PCT     a %XX escape
    ESC     a backslash (a JSON string escape)
    CTRL    a control byte (binary: protobuf, and values the form/JSON walk would call binary)
    SNIFF   gzip / zstd / zlib magic anywhere (a value inside may start with it)
    NESTED  JSON that starts a string or form value (its numbers would be rendered anew)
    LAT/LON the fence's latitude and longitude in any numeric spelling (location.Locator.hints)
    RUN     16 characters of the Base64 alphabet in a row (looked for only where UPPER and LOWER
            both occur, which RUN_KNOWN says; elsewhere `has_run` looks when a caller asks)
and candidates that a second look settles only when they occur: UPPER with LOWER (a mixed-case
Base64 run, the only kind the walker decodes: `mixed`) and SPACED (JSON after white space).

A value with none of these (LAT and LON only together) is "quiet": its decoded parts can only be
its own substrings with no needle and no position in them, so the walker skips walking them and
still leaves the notes it would have left (decoders.Walker._quiet and Walker.quiet). The gate is
only built on hyperscan; without it the walker walks everything, as before.

The parts of a parsed document or form (its strings and numbers, its fields) are looked at in one pass
of their own (Gate.spots over them all, each after a quote: where each needle and loud trace ends), and
only the parts with something in them are walked (parts.quiet_parts).

One difference is accepted: past Limits.max_segments, a walk that skipped quiet values counts
fewer values than the full walk would, so which values are scanned last may differ (never fewer).
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from devicelab.analysis.forms import Form
from devicelab.analysis.matcher import hyperscan

NEEDLE = 1
PCT = 2
ESC = 4
CTRL = 8
SNIFF = 16
NESTED = 32
LAT = 64
LON = 128
# Candidates: cheap in the one pass, settled by a second look only when they occur.
UPPER = 256  # with LOWER: maybe a mixed-case Base64 run
LOWER = 512
SPACED = 1024  # a quote or '=' and white space: maybe JSON after white space
RUN = 2048  # 16 characters of the Base64 alphabet in a row: a run the walker looks at (base64_runs.run_spans)
RUN_KNOWN = 4096  # whether RUN was looked for: only where UPPER and LOWER both occur (else see has_run)
ESCAPES = 8192  # a binary value's traces were not looked for, but where its escapes are (Gate.probe's `starts`)
#: Any of these makes a value worth walking; LAT and LON only count together.
LOUD = NEEDLE | PCT | ESC | CTRL | SNIFF | NESTED

# Trigger patterns are few and simple on purpose: a class repeat (`[a-z][0-9]*[A-Z]`) in the same
# database makes hyperscan scan JSON at a quarter of its literal speed; such checks run second.
# The pass is two databases (measured on 54 KB of text: one of both, 37 us; needles, byte classes and
# hints 14 us, plus the short multi-byte traces alone 3.5 us): the traces of two and three bytes add
# candidates to the needles' literal matcher at nearly every offset. RUN is a pass of its own (14 us on
# text) made only where UPPER and LOWER both occur, the one place a Base64 run decides a flag. A value
# under _SPLIT bytes (JSON, Base64, forms) is scanned by one database of all of them (RUN_KNOWN).
_DEFLATE_SECOND = b"".join(b"\\x%02x" % b for b in range(256) if (0x78 << 8 | b) % 31 == 0)
_WHITE = rb" \t\r\n\x0b\x0c+"  # what lstrip() and a form's '+' remove before a value
#: single bytes: with the needles and hints
_TRIGGERS: tuple[tuple[bytes, int], ...] = (
    (rb"\x5c", ESC),
    (rb"[\x00-\x08\x0e-\x1a]", CTRL),
    (rb"[A-Z]", UPPER),
    (rb"[a-z]", LOWER),
)
#: traces of two bytes or more: a database of their own
_TRACES: tuple[tuple[bytes, int], ...] = (
    (rb"%[0-9A-Fa-f]{2}", PCT),
    (rb"\x1f\x8b\x08|\x28\xb5\x2f\xfd|\x78[" + _DEFLATE_SECOND + rb"]", SNIFF),
    (rb"[\x22=][\x5b{]", NESTED),
    (rb"[\x22=][" + _WHITE + rb"]", SPACED),
)
_RUN = rb"[A-Za-z0-9+/_\-]{16}"
# Second looks, each in a database of its own (together they would slow each other down):
#: letters of both cases in one run of the Base64 alphabet (the walker decodes only such runs);
_MIXED_RUN = rb"[A-Z][0-9+/_\-\r\n]*[a-z]|[a-z][0-9+/_\-\r\n]*[A-Z]"
#: JSON after white space at the start of a string or form value;
_SPACED_JSON = rb"[\x22=][" + _WHITE + rb"]+[\x5b{]"
#: the first 16 characters of a Base64 run (after a byte that is none of the alphabet): one match per run
_RUN_START = rb"[^A-Za-z0-9+/_\-][A-Za-z0-9+/_\-]{16}"
#: what goes before each value of a buffer for `Gate.spots`: a quote (a value starting JSON is NESTED)
SEPARATOR = b"\x22"


def _flag(index: int, _start: int, _end: int, _flags: int, found: list[Any]) -> bool:
    found[0] |= found[1][index]
    return False  # every pattern reports once (SINGLEMATCH): all flags, at most one call each


def _literal(needle: bytes) -> bytes:
    return b"".join(b"\\x%02x" % c for c in needle)


class Gate:
    """Flags for one value from one scan; `probe` is thread-safe."""

    def __init__(self, forms: Sequence[Form], lat_hints: Sequence[bytes] = (), lon_hints: Sequence[bytes] = ()) -> None:
        if hyperscan is None:
            raise RuntimeError("the gate needs hyperscan")
        expressions: list[bytes] = []
        flags: list[int] = []
        self._bits: list[int] = []
        single = hyperscan.HS_FLAG_SINGLEMATCH
        for form in forms:
            expressions.append(_literal(form.needle))
            flags.append(single | (hyperscan.HS_FLAG_CASELESS if form.caseless else 0))
            self._bits.append(NEEDLE)
        triggers = [*_TRIGGERS, *((hint, LAT) for hint in lat_hints), *((hint, LON) for hint in lon_hints)]
        for pattern, bit in triggers:
            expressions.append(pattern)
            flags.append(single)
            self._bits.append(bit)
        #: No pattern of the main pass matches more bytes than this (needles, hints, triggers).
        self.reach = max((len(form.needle) for form in forms), default=0) + 16
        self._db = _compile(expressions, flags)
        # a small value is looked at in one call of one database with every trigger (RUN included)
        self._whole_bits = [*self._bits, *(bit for _pattern, bit in _TRACES), RUN]
        self._whole = _compile([*expressions, *(pattern for pattern, _bit in _TRACES), _RUN],
                               [*flags, *[single] * (len(_TRACES) + 1)])
        self._traces = _compile([pattern for pattern, _bit in _TRACES], [single] * len(_TRACES))
        self._trace_bits = [bit for _pattern, bit in _TRACES]
        self._run = _compile([_RUN], [single])
        self._mixed = _compile([_MIXED_RUN], [single])
        self._spaced = _compile([_SPACED_JSON], [single])
        self._escape = _compile([rb"%[0-9A-Fa-f]{2}"], [0])
        # where each needle and loud trace ends (no SINGLEMATCH): the parts of a parsed document in one pass
        spots = [*expressions[:len(forms)], *(pattern for pattern, bit in _TRIGGERS if bit & LOUD),
                 *(pattern for pattern, bit in _TRACES if bit & LOUD), _SPACED_JSON, _RUN_START,
                 *(hint for hint, _bit in triggers if _bit & (LAT | LON))]
        self._spot_bits = [*self._bits[:len(forms)], *(bit for _p, bit in _TRIGGERS if bit & LOUD),
                           *(bit for _p, bit in _TRACES if bit & LOUD), NESTED, RUN,
                           *(bit for _hint, bit in triggers if bit & (LAT | LON))]
        self._spots = _compile(spots, [flag & hyperscan.HS_FLAG_CASELESS for flag in flags[:len(forms)]]
                               + [0] * (len(spots) - len(forms)))
        self._local = threading.local()
        hinted = [(hint, bit) for hint, bit in triggers if bit & (LAT | LON)]
        self._needle_expressions = [*expressions[:len(forms)], *(hint for hint, _bit in hinted)]
        self._needle_flags = [*flags[:len(forms)], *[single] * len(hinted)]
        self._needle_bits = [*self._bits[:len(forms)], *(bit for _hint, bit in hinted)]
        self._needles: Any = None  # compiled when the quiet path asks for it
        self._needle_spots: Any = None
        self._forms = len(forms)

    def _scratch(self) -> dict[int, Any]:
        scratch: dict[int, Any] | None = getattr(self._local, "scratch", None)
        if scratch is None:
            dbs = (self._db, self._whole, self._traces, self._run, self._mixed, self._spaced, self._escape,
                   self._spots)
            scratch = self._local.scratch = {id(db): hyperscan.Scratch(db) for db in dbs}
        return scratch

    def needle_database(self) -> tuple[Any, list[int]]:
        """A database of the needles and hints alone (NEEDLE, LAT, LON), and the flag of each of its patterns.

        For the C quiet path (quiet_path.py), which finds the byte triggers and traces itself: a quiet value
        then makes no match at all, and no call back into Python.
        """
        if self._needles is None:
            self._needles = _compile(self._needle_expressions, self._needle_flags)
        return self._needles, list(self._needle_bits)

    def spots_database(self) -> Any:
        """The needles alone, each match reported (no SINGLEMATCH): where they are, as `spots` finds them."""
        if self._needle_spots is None:
            caseless = [flag & hyperscan.HS_FLAG_CASELESS for flag in self._needle_flags[:self._forms]]
            self._needle_spots = _compile(self._needle_expressions[:self._forms], caseless)
        return self._needle_spots

    def quiet_scratches(self) -> tuple[Any, Any]:
        """This thread's scratches for `needle_database` and `spots_database` (made on its first ask)."""
        scratches: tuple[Any, Any] | None = getattr(self._local, "quiet", None)
        if scratches is None:
            scratches = self._local.quiet = (hyperscan.Scratch(self.needle_database()[0]),
                                             hyperscan.Scratch(self.spots_database()))
        return scratches

    def _any(self, db: Any, data: bytes) -> bool:
        found = [False]

        def on_match(_index: int, _start: int, _end: int, _flags: int, _ctx: Any) -> bool:
            found[0] = True
            return True

        with contextlib.suppress(hyperscan.ScanTerminated):
            db.scan(data, match_event_handler=on_match, scratch=self._scratch()[id(db)])
        return found[0]

    def probe(self, data: bytes, starts: list[int] | None = None) -> int:
        """The flags of `data` (RUN only where RUN_KNOWN: see has_run).

        `starts`: where the escapes of a large binary value go when ESCAPES says they were looked for:
        a control byte makes the value loud whatever its other traces (see `loud`), so the pass for
        where its %XX escapes are (which the walk needs next) stands in for the traces' pass.
        """
        scratches = getattr(self._local, "main", None)
        if scratches is None:
            scratch = self._scratch()
            scratches = self._local.main = (scratch[id(self._db)], scratch[id(self._traces)], scratch[id(self._run)],
                                            scratch[id(self._whole)])
        if len(data) < _SPLIT:
            found: list[Any] = [RUN_KNOWN, self._whole_bits]
            self._whole.scan(data, match_event_handler=_flag, context=found, scratch=scratches[3])
            whole: int = found[0]
            return whole
        found = [0, self._bits]
        self._db.scan(data, match_event_handler=_flag, context=found, scratch=scratches[0])
        if found[0] & CTRL and starts is not None:
            starts += self.escapes(data)
            found[0] |= ESCAPES | (PCT if starts else 0)
        else:
            found[1] = self._trace_bits
            self._traces.scan(data, match_event_handler=_flag, context=found, scratch=scratches[1])
        flags: int = found[0]
        if flags & (UPPER | LOWER) == UPPER | LOWER:
            found[0], found[1] = RUN_KNOWN, _RUN_BITS
            self._run.scan(data, match_event_handler=_flag, context=found, scratch=scratches[2])
            flags |= found[0]
        return flags

    def has_run(self, data: bytes, flags: int = 0) -> bool:
        """Whether `data` holds a Base64 run (16 characters of the alphabet in a row); `flags` if it knows."""
        if flags & RUN_KNOWN:
            return bool(flags & RUN)
        return self._any(self._run, data)

    def loud(self, data: bytes, flags: int, runs: bool | None = None) -> bool:
        """Whether a decoder could reveal in `data` what its bytes do not hold as they are (see above)."""
        if flags & LOUD or flags & (LAT | LON) == LAT | LON:
            return True
        if flags & SPACED and self._any(self._spaced, data):
            return True
        return self.mixed(data, flags, runs)

    def mixed(self, data: bytes, flags: int, runs: bool | None = None) -> bool:
        """Whether `data` may hold a Base64 run with letters of both cases (the ones the walker decodes).

        Such a run has 16 characters of the alphabet in a row (cheap to rule out: camelCase keys do
        not; `runs` if the caller knows) and an upper- and a lower-case letter with no other letter
        between them.
        """
        if flags & (UPPER | LOWER) != UPPER | LOWER or len(data) < 16:
            return False
        return (self.has_run(data, flags) if runs is None else runs) and self._any(self._mixed, data)

    def escapes(self, data: bytes) -> list[int]:
        """Where each %XX escape of `data` starts (escapes cannot overlap: '%' is not a hex digit)."""
        starts: list[int] = []

        def on_match(_index: int, _start: int, end: int, _flags: int, _ctx: Any) -> bool:
            starts.append(end - 3)
            return False

        self._escape.scan(data, match_event_handler=on_match, scratch=self._scratch()[id(self._escape)])
        return starts

    def spots(self, data: bytes, most: int) -> list[tuple[int, int]] | None:
        """(end, flag) of each needle and loud trace in `data`, and of each start of a Base64 run; None past `most`.

        For many values in one buffer, each after a SEPARATOR (parts._spotted): a needle or trace within a value
        ends within it. NESTED also stands for JSON after white space, and at the start of a value (what
        looks_like_json sees: the separator is a quote); RUN for a run's first 16 characters (one per run,
        where `mixed` and the run counts need a run); LAT and LON as the hints match.
        """
        bits = self._spot_bits
        found: list[tuple[int, int]] = []

        def on_match(index: int, _start: int, end: int, _flags: int, _ctx: Any) -> bool:
            found.append((end, bits[index]))
            return len(found) > most

        try:
            self._spots.scan(data, match_event_handler=on_match, scratch=self._scratch()[id(self._spots)])
        except hyperscan.ScanTerminated:
            return None
        return found

    def runs(self, data: bytes) -> bool:
        """Whether `data` holds a Base64 run at all (16 characters of the alphabet in a row)."""
        return self.has_run(data)


_RUN_BITS = [RUN]
#: Values at least this long get the split pass (measured: below it, one database costs no more than two).
_SPLIT = 16384


def _compile(expressions: list[bytes], flags: list[int]) -> Any:
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions), flags=flags)
    return db


def quiet_segment(flags: int) -> bool:
    """No needle and no position can be in the value itself (the matcher and locator may skip it)."""
    return not flags & NEEDLE and flags & (LAT | LON) != LAT | LON
