"""Find every needle in a block of bytes at once: hyperscan, or Aho-Corasick when it is missing.

Regex alternation misses overlapping needles and is slow; both engines here report every needle
that occurs, overlapping or not. A needle with a boundary (short numbers) only counts when the
bytes around it are not digits (or not letters and digits).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from devicelab.analysis.forms import Form

hyperscan: Any
try:
    import hyperscan
except ImportError:  # pragma: no cover - the fallback is exercised by forcing engine="aho" in tests
    hyperscan = None

Engine = Literal["auto", "hyperscan", "aho"]

#: Stop a scan after this many raw match events (an adversarial body full of near misses).
MAX_EVENTS = 100_000

_DIGITS = frozenset(b"0123456789")
_ALNUM = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class Hit:
    form: Form
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ScanResult:
    hits: tuple[Hit, ...]
    truncated: bool = False


def _bounded_ok(form: Form, data: bytes, start: int, end: int) -> bool:
    if not form.boundary:
        return True
    if form.boundary == "varint":  # the byte before would carry on into this varint: a larger number
        return start == 0 or data[start - 1] < 0x80
    if form.boundary == "token":
        return start == 0 or data[start - 1] not in _ALNUM
    chars = _DIGITS if form.boundary == "digit" else _ALNUM
    before = start > 0 and data[start - 1] in chars
    after = end < len(data) and data[end] in chars
    return not (before or after)


class Matcher:
    """A compiled set of forms; `scan` is thread-safe."""

    def __init__(self, forms: Sequence[Form], engine: Engine = "auto") -> None:
        self.forms = tuple(forms)
        #: Data shorter than this cannot hold any needle (the scan call is skipped).
        self.min_length = min((len(form.needle) for form in self.forms), default=0)
        if engine == "hyperscan" and hyperscan is None:
            raise RuntimeError("hyperscan is not installed")
        self.engine: Literal["hyperscan", "aho", "none"]
        if not self.forms:
            self.engine = "none"
        elif engine == "aho" or hyperscan is None:
            self.engine = "aho"
            self._impl: _Impl = _AhoImpl(self.forms)
        else:
            self.engine = "hyperscan"
            self._impl = _HyperscanImpl(self.forms)

    def scan(self, data: bytes) -> ScanResult:
        """The first valid hit of each form in `data`, in the order of the forms."""
        if self.engine == "none" or len(data) < self.min_length:
            return _NOTHING
        raw = self._impl.events(data)
        if not raw:
            return _NOTHING  # the common case: no Python work beyond the call
        found: dict[int, Hit] = {}
        events = 0
        for index, end in raw:
            events += 1
            if events > MAX_EVENTS:
                return ScanResult(tuple(found[i] for i in sorted(found)), truncated=True)
            if index in found:
                continue
            form = self.forms[index]
            start = end - len(form.needle)
            if _bounded_ok(form, data, start, end):
                found[index] = Hit(form, start, end)
        return ScanResult(tuple(found[i] for i in sorted(found)))  # in form order: plainer variants first


_NOTHING = ScanResult(())


def _collect(index: int, _start: int, end: int, _flags: int, out: list[tuple[int, int]]) -> bool:
    out.append((index, end))
    return len(out) > MAX_EVENTS


class _Impl:
    def events(self, data: bytes) -> list[tuple[int, int]]:
        """(form index, end offset) for each raw match, at most MAX_EVENTS + 1 of them."""
        raise NotImplementedError


class _HyperscanImpl(_Impl):
    def __init__(self, forms: Sequence[Form]) -> None:
        # Escaping every byte keeps NULs and regex metacharacters literal (the pure-literal API stops at NUL).
        expressions = [b"".join(b"\\x%02x" % c for c in form.needle) for form in forms]
        flags = []
        for form in forms:
            flag = hyperscan.HS_FLAG_CASELESS if form.caseless else 0
            if not form.boundary:  # one report per pattern is enough; bounded ones need every candidate
                flag |= hyperscan.HS_FLAG_SINGLEMATCH
            flags.append(flag)
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=expressions, ids=list(range(len(forms))), elements=len(forms), flags=flags)
        self._local = threading.local()

    def events(self, data: bytes) -> list[tuple[int, int]]:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        out: list[tuple[int, int]] = []
        try:  # a module-level callback and no context manager: this runs once per value scanned
            self._db.scan(data, match_event_handler=_collect, context=out, scratch=scratch)
        except hyperscan.ScanTerminated:  # _collect stopped it at MAX_EVENTS
            return out
        return out


class _AhoImpl(_Impl):
    def __init__(self, forms: Sequence[Form]) -> None:
        import ahocorasick

        self._exact = ahocorasick.Automaton()
        self._caseless = ahocorasick.Automaton()
        self._once = [not form.boundary for form in forms]
        for index, form in enumerate(forms):
            # latin-1 maps bytes 1:1 onto code points, so offsets stay byte offsets
            automaton, needle = (self._caseless, form.needle.lower()) if form.caseless else (self._exact, form.needle)
            key = needle.decode("latin-1")
            indexes = automaton.get(key, [])
            automaton.add_word(key, [*indexes, index])
        for automaton in (self._exact, self._caseless):
            if len(automaton):
                automaton.make_automaton()

    def events(self, data: bytes) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        reported: set[int] = set()
        for automaton, haystack in ((self._exact, data), (self._caseless, data.lower())):
            if not len(automaton):
                continue
            for last, indexes in automaton.iter(haystack.decode("latin-1")):
                for index in indexes:
                    if index in reported:
                        continue
                    if self._once[index]:  # like hyperscan's SINGLEMATCH
                        reported.add(index)
                    out.append((index, last + 1))
                if len(out) > MAX_EVENTS:
                    return out
        return out
