"""A request taken apart for the matcher: every place a value can hide, decoded recursively.

Each value is handed to the matcher as it is (a Segment), then decoded where it looks like
something that decodes: compression, JSON, forms, multipart, protobuf, Base64 runs (line-broken
or URL-safe, whatever the Content-Type says), percent-encoding. Depth, total decoded bytes,
segment count and nesting are bounded; what could not be decoded becomes a Note, never an error.

The Walker keeps the traversal, its budget and the gate's looks; the pieces it calls have modules of
their own: segments (what it yields and notes, its Limits), content (the Content-Encoding undone),
base64_runs, percent (%XX), parts (one gate pass over a document's or form's parts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from devicelab.analysis import structured
from devicelab.analysis.base64_runs import counts_many_runs, decoded_runs
from devicelab.analysis.compression import sniff
from devicelab.analysis.content import Content, inflate_within, undo_content_encoding
from devicelab.analysis.parts import BATCH, GATED, Parts, loud_parts, quiet_parts
from devicelab.analysis.percent import PERCENT, unescape, unescaped, unescaped_flags
from devicelab.analysis.prefilter import (
    CTRL,
    ESCAPES,
    LAT,
    LON,
    LOWER,
    NEEDLE,
    PCT,
    RUN_KNOWN,
    UPPER,
    Gate,
    quiet_segment,
)
from devicelab.analysis.segments import FieldGroup, Item, Limits, Note, Segment, render, short
from devicelab.analysis.structured import Scalar
from devicelab.model.traffic import Request

# what other modules import from here: the walker and what it yields
__all__ = ["FieldGroup", "Item", "Limits", "Note", "Segment", "Walker", "render"]

#: Values at least this long have their gate flags and looks kept for the walk (`quiet` saw them first).
_MEMO = 2048
#: Shorter text cannot hold an encoded identifier (the shortest needle is 6 bytes); binary can (a varint).
_MIN_DECODABLE = 12
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a]")


class Walker:
    """Walks one request; `notes` holds what could not be decoded. Use one Walker per request."""

    def __init__(self, limits: Limits | None = None, gate: Gate | None = None) -> None:
        self.limits = limits or Limits()
        self.notes: list[Note] = []
        self.gate = gate  # without one every value is walked
        self._decoded = 0
        self._segments = 0
        # what `quiet` learnt, for the walk that follows it when the request is not quiet
        self._quiet_head: Request | None = None
        self._probed: dict[int, tuple[bytes, int]] = {}
        self._looked: dict[tuple[int, str], tuple[bytes, bool]] = {}
        self._escapes: dict[int, tuple[bytes, list[int]]] = {}
        self._contents: tuple[Request, Content | None, list[Note], int] | None = None

    def walk(self, request: Request) -> Iterator[Item]:
        """Every Segment and FieldGroup of a request: host, URL, headers, cookies, body."""
        self.notes, self._decoded, self._segments = [], 0, 0
        if self._quiet_head is request:  # nothing to find before the body: count its values, as the walk would
            self._segments += self._head_values(request)
            yield from self._body(request)
            return
        yield from self._segment(("host",), (), request.host.encode("utf-8", "surrogateescape"))
        path, _, query = request.path.partition("?")
        yield from self._segment(("url",), (), request.path.encode("utf-8", "surrogateescape"))
        if len(path) > 1:
            yield from self._children(("url", "path"), (), path.encode("utf-8", "surrogateescape"), 0, "")
        if query:
            yield from self._fields(("url",), (), query.encode("utf-8", "surrogateescape"), 0, "query")
        for name, value in request.headers:
            where = (f"header:{name}",)
            yield from self.visit(where, (), value.encode("utf-8", "surrogateescape"))
            if name.lower() == "cookie":
                for key, data in structured.parse_cookies(value):
                    yield from self.visit((*where, f"cookie:{key}"), ("cookie",), data, 1)
        yield from self._body(request)

    def quiet(self, request: Request) -> bool:
        """Whether `walk` would yield nothing to match or locate; if so, `notes` holds what it would note.

        One gate pass over the URL and header values and one over the body (after its Content-Encoding)
        stand in for the walk; a body whose decoders could reveal something, or leave a note other than
        the ones decoding the body itself leaves, is not quiet (use a fresh Walker to walk it).
        """
        gate, limits = self.gate, self.limits
        if gate is None:
            return False
        _path, _, query = request.path.partition("?")
        head = "\n".join([request.host, request.path, *(value for _, value in request.headers)])
        small = head.encode("utf-8", "surrogateescape")
        flags = gate.probe(small)
        if (not quiet_segment(flags) or gate.loud(small, flags) or query.count("&") + 1 > limits.max_fields
                or 2 * (len(small) + len(request.content)) + 64 * (len(request.headers) + 4) >= limits.max_segments):
            return False
        self._quiet_head = request
        content = self._content(request)
        if content is None:
            return True
        raw, where, steps, data, ctype = content
        if raw is not None and not quiet_segment(self._probe(raw)):
            return False
        flags = self._probe(data)
        if not quiet_segment(flags):
            return False
        if not (len(data) >= _MIN_DECODABLE or (len(data) > 2 and _binary(data))):
            return True
        if sniff(data) is not None:
            return False
        mime = structured.mime_type(ctype) if ctype else ""
        if not self._quiet(data, flags, mime):
            return False
        for _item in self._children(where, steps, data, 0, ctype, False, flags, quiet=True):
            return False  # a number the JSON parser renders anew: walk it
        return True

    def _head_values(self, request: Request) -> int:
        """How many values the walk counts before the body of a request whose head is quiet.

        Host and URL, each query field (parse_qsl skips empty pieces), each header and cookie value; the
        decoders yield nothing more for quiet values.
        """
        _path, _, query = request.path.partition("?")
        fields = sum(1 for piece in query.split("&") if piece) if query else 0
        cookies = sum(len(structured.parse_cookies(value)) for name, value in request.headers
                      if name.lower() == "cookie")
        return 2 + fields + len(request.headers) + cookies

    def _probe(self, data: bytes) -> int:
        """The gate's flags for `data`, once per bytes object (a small one is probed again: that is cheaper)."""
        assert self.gate is not None
        if len(data) < _MEMO:
            return self.gate.probe(data)
        known = self._probed.get(id(data))
        if known is not None and known[0] is data:
            return known[1]
        starts: list[int] = []
        flags = self.gate.probe(data, starts)
        self._probed[id(data)] = (data, flags)
        if flags & ESCAPES:
            self._escapes[id(data)] = (data, starts)
        return flags

    def _probe_unescaped(self, decoded: bytes, starts: list[int], flags: int) -> None:
        """Keep the gate's flags for `decoded` (`data` with its %XX undone) and its escapes, told from the
        flags of `data` and a look near each escape (percent.unescaped_flags)."""
        assert self.gate is not None
        if len(decoded) < _MEMO:
            return  # a small value: one full look is cheaper
        looked = unescaped_flags(self.gate, decoded, starts, flags)
        if looked is not None:
            seen, escapes = looked
            self._probed[id(decoded)] = (decoded, seen)
            self._escapes[id(decoded)] = (decoded, escapes)

    def _look(self, look: str, data: bytes, flags: int) -> bool:
        """A second look of the gate at `data` ("loud", "mixed" or "runs"), once per large bytes object."""
        assert self.gate is not None
        key = (id(data), look)
        if len(data) >= _MEMO:
            known = self._looked.get(key)
            if known is not None and known[0] is data:
                return known[1]
        gate = self.gate
        if look == "runs":  # `flags` are the probe's of `data` (or 0): a probe that looked for RUN answers
            seen = gate.has_run(data, flags if flags & RUN_KNOWN else self._probe(data))
        elif look == "mixed":  # the runs are looked at only where both cases occur (gate.mixed's first test)
            seen = (flags & (UPPER | LOWER) == UPPER | LOWER and len(data) >= 16
                    and gate.mixed(data, flags, self._look("runs", data, flags)))
        else:  # "loud"; or "plain", memoized apart: `flags` without NEEDLE, LAT and LON
            seen = gate.loud(data, flags, False) or self._look("mixed", data, flags)
        if len(data) >= _MEMO:
            self._looked[key] = (data, seen)
        return seen

    def _content(self, request: Request) -> Content | None:
        """The body with its Content-Encoding undone (once per request: `quiet` and `walk` share it)."""
        if self._contents is not None and self._contents[0] is request:
            _request, content, notes, decoded = self._contents
            for note in notes:
                self._note(note.where, note.decoder, note.problem)
            self._decoded += decoded
            return content
        before = len(self.notes)
        content, notes, decoded = undo_content_encoding(request, self.limits.max_decoded - self._decoded)
        for note in notes:
            self._note(note.where, note.decoder, note.problem)
        self._decoded += decoded
        self._contents = (request, content, self.notes[before:], decoded)
        return content

    def _body(self, request: Request) -> Iterator[Item]:
        # the encoded body is scanned before it is decoded (a note on decoding it may cut the segments short)
        if request.content and request.content_encoded and request.header("content-encoding"):
            yield from self._segment(("body",), (), request.content)
        content = self._content(request)
        if content is not None:
            _raw, where, steps, data, ctype = content
            yield from self.visit(where, steps, data, 0, ctype)

    def visit(self, where: tuple[str, ...], steps: tuple[str, ...], data: bytes, depth: int = 0,
              ctype: str = "", in_protobuf: bool = False, plain: bool = False) -> Iterator[Item]:
        """Scan `data` as it is, then whatever it decodes to.

        `plain`: `data` is a part of a container that holds no decoder's trace (see _plain); a part with
        no needle and no position is then a quiet segment with nothing under it, told by one gate pass.
        """
        if plain and self.gate is not None and quiet_segment(self.gate.probe(data)):
            yield from self._segment(where, steps, data, True)
            return
        decodable = depth < self.limits.max_depth and (
            len(data) >= _MIN_DECODABLE or (len(data) > 2 and _binary(data)))
        # the gate pays where it can spare the decoders: on a short value they cost less than it does
        flags = self._probe(data) if self.gate is not None and decodable and len(data) >= GATED else None
        yield from self._segment(where, steps, data, flags is not None and quiet_segment(flags))
        if decodable:
            yield from self._children(where, steps, data, depth, ctype, in_protobuf, flags)

    def _children(self, where: tuple[str, ...], steps: tuple[str, ...], data: bytes, depth: int, ctype: str,
                  in_protobuf: bool = False, flags: int | None = None, quiet: bool | None = None) -> Iterator[Item]:
        codec = sniff(data)
        if codec is not None:
            inflated = self._inflate(where, codec, data, declared=codec != "deflate")
            if inflated is not None:
                yield from self.visit((*where, codec), (*steps, codec), inflated, depth + 1)
                return
        mime = structured.mime_type(ctype) if ctype else ""
        # A quiet value's parts hold nothing to find: only the parsers whose failure is a note still run.
        if quiet is None:
            quiet = flags is not None and self.gate is not None and self._quiet(data, flags, mime)
        done = False  # a structured decoder took the value apart: its parts are visited instead
        if mime.startswith("multipart/"):
            boundary = structured.media_type(ctype)[1].get("boundary", "")
            done = yield from self._multipart(where, steps, data, depth, boundary)
        json_declared = structured.is_json_type(mime)
        if not done and (json_declared or structured.looks_like_json(data)):
            plain = (not quiet and flags is not None and self.gate is not None
                     and self._plain(data, flags, mime))
            done = yield from self._json(where, steps, data, depth, json_declared, quiet, plain)
        if quiet:
            return  # forms, protobuf, Base64 and %XX: nothing to decode, nothing to note (see _quiet)
        if not done and (mime == "application/x-www-form-urlencoded" or structured.looks_like_form(data)):
            plain = flags is not None and self.gate is not None and self._plain(data, flags, mime)
            done = yield from self._fields(where, steps, data, depth, "form", plain)
        pb_declared = "protobuf" in mime
        binary = (flags is None or flags & CTRL) and _binary(data)  # no control byte anywhere: not binary
        if not done and not in_protobuf and (pb_declared or binary):
            done = yield from self._protobuf(where, steps, data, depth, pb_declared)
        if done:
            return
        gate = self.gate
        if (flags is None or gate is None or self._look("mixed", data, flags)
                or self._many_runs(data, flags)):
            yield from self._base64(where, steps, data, depth)  # else no run it would decode, nor too many
        if flags is not None and gate is not None:
            known = self._escapes.get(id(data))
            starts = (known[1] if known is not None and known[0] is data else gate.escapes(data)) if flags & PCT else []
            if starts:
                decoded = unescaped(data, starts)
                self._probe_unescaped(decoded, starts, flags)
                if self._take(where, len(decoded)):
                    yield from self.visit((*where, "urldecode"), (*steps, "urldecode"), decoded, depth + 1)
        elif b"%" in data and PERCENT.search(data):
            decoded = PERCENT.sub(unescape, data)  # unquote_to_bytes, without a Python step per '%'
            if self._take(where, len(decoded)):
                yield from self.visit((*where, "urldecode"), (*steps, "urldecode"), decoded, depth + 1)

    def _quiet(self, data: bytes, flags: int, mime: str) -> bool:
        """Whether walking the parts of `data` can find nothing and note nothing the parse itself does not.

        The gate rules out needles, positions and every decoder that could reveal bytes `data` does not
        hold (see prefilter.py); the counts here rule out the notes a walk leaves on limits: too many fields,
        Base64 runs or values (and _structured walks a JSON document that may nest too deep).
        """
        return not self._look("loud", data, flags) and self._within_limits(data, flags, mime)

    def _plain(self, data: bytes, flags: int, mime: str) -> bool:
        """Whether `data` would be quiet (_quiet) but for a needle or a position in it.

        Its parts then hold no decoder's trace either (each is a substring of `data`, or one with a form's
        '+' made a space, which the gate's traces allow for): only a part with a needle or a position in
        it can yield anything, and the gate tells which do.
        """
        if not flags & NEEDLE and flags & (LAT | LON) != LAT | LON:
            return False  # a quiet value: _quiet decides
        trace = flags & ~(NEEDLE | LAT | LON)
        return not self._look("plain", data, trace) and self._within_limits(data, flags, mime)

    def _within_limits(self, data: bytes, flags: int, mime: str) -> bool:
        """Whether a walk of the parts of `data` reaches no limit (a note) and takes apart no container itself.

        Asked after the gate's look: the count of Base64 runs in a long value costs more than the look.
        """
        limits = self.limits
        return (
            not mime.startswith("multipart/") and "protobuf" not in mime
            # every value of a quiet walk takes a separator byte of `data`: the count stays under the limit
            and self._segments + 2 * len(data) + 64 < limits.max_segments
            and (len(data) < limits.max_fields or b"&" not in data or data.count(b"&") < limits.max_fields)
            and not self._many_runs(data, flags)
        )

    def _many_runs(self, data: bytes, flags: int | None) -> bool:
        """Whether `data` may hold more Base64 runs than the walker decodes or looks at (a note).

        Only runs with letters of both cases are decoded: where the gate's flags (if known) show one case
        only, the bound on the runs looked at is the one left, and it takes a value twenty times as long.
        """
        limits = self.limits
        one_case = flags is not None and flags & (UPPER | LOWER) != UPPER | LOWER
        most = limits.max_base64_looked if one_case else min(limits.max_base64_runs, limits.max_base64_looked)
        # each run takes 17 bytes (its 16 characters and what ends it): a shorter value cannot hold them
        return len(data) >= 17 * most - 1 and self._look("runs", data, 0) and counts_many_runs(data, most)

    def _json(self, where: tuple[str, ...], steps: tuple[str, ...], data: bytes, depth: int,
              declared: bool, quiet: bool = False, plain: bool = False) -> Generator[Item, None, bool]:
        if quiet:  # parse for the note a declared body that is not JSON leaves; walk only if a number renders anew
            return (yield from self._structured(where, steps, data, depth, declared, "json", _parse_json_quiet,
                                                self.limits.max_json_bytes, "too large to parse as JSON"))
        return (yield from self._structured(where, steps, data, depth, declared, "json", structured.parse_json,
                                            self.limits.max_json_bytes, "too large to parse as JSON", plain))

    def _protobuf(self, where: tuple[str, ...], steps: tuple[str, ...], data: bytes, depth: int,
                  declared: bool) -> Generator[Item, None, bool]:
        # only a declared body's note says why bbpb refused it: other bytes may be refused before it is asked
        return (yield from self._structured(where, steps, data, depth, declared, "protobuf",
                                            structured.parse_protobuf if declared else _parse_protobuf_quick,
                                            self.limits.max_protobuf_bytes, "too large to decode without a schema"))

    def _structured(self, where: tuple[str, ...], steps: tuple[str, ...], data: bytes, depth: int, declared: bool,
                    codec: str, parse: Callable[[bytes], Any], limit: int,
                    too_large: str, plain: bool = False) -> Generator[Item, None, bool]:
        """Parse a JSON or protobuf body and walk it; a failure is a note only when the headers declared it."""
        if len(data) > limit:
            if declared:
                self._note(where, codec, f"{len(data)} bytes: {too_large}")
            return False
        try:
            doc = parse(data)
        except ValueError as exc:
            if declared:
                self._note(where, codec, f"could not decode: {short(exc)}")
            return False
        if isinstance(doc, _Rendered):  # a quiet JSON document: walk it only where str(number) differs
            if not isinstance(doc.doc, dict | list):
                return False
            if doc.same and data.count(b"[") + data.count(b"{") <= self.limits.max_nesting:
                return True
            doc = structured.parse_json(data)  # with its numbers, to walk
        if codec == "json" and not isinstance(doc, dict | list):
            return False  # a bare JSON scalar is just text: the other decoders see it
        yield from self._tree(where, (*steps, codec), doc, depth, codec, plain)
        return True

    def _tree(self, where: tuple[str, ...], steps: tuple[str, ...], root: Any, depth: int,
              label: str, plain: bool = False) -> Iterator[Item]:
        """Values of a parsed JSON or protobuf tree: strings are visited further, numbers scanned.

        With the gate, a JSON document's strings and numbers are looked at in one pass first (parts.loud_parts):
        only the parts it shows a needle or a decoder's trace in are visited, and the objects are offered
        to the locator only when its hints show a latitude and a longitude somewhere among the parts.
        """
        nodes = structured.tree_nodes(root, self.limits.max_nesting)
        parts = (loud_parts(nodes, self.gate, self.limits)
                 if self.gate is not None and label == "json" and len(nodes) >= BATCH else None)
        paths: dict[int, str] = {}
        loud, decoded = (parts.loud, parts.decoded) if parts is not None else (frozenset(), {})
        most = self.limits.max_segments
        for index, (_parent, _key, value, too_deep) in enumerate(nodes):
            if too_deep:
                self._note(where, label, f"nested deeper than {self.limits.max_nesting} levels: not walked")
                continue
            if parts is not None and index not in loud:
                if isinstance(value, dict | list):
                    if not parts.located:
                        continue
                # a quiet part: one segment (and a negative number's twin), and its decoded runs', with nothing in them
                elif isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
                    count = 2 if isinstance(value, int) and -(2**63) <= value < 0 else 1
                    if index not in decoded and self._segments + count < most:
                        self._segments += count
                        continue
                    if self._counted(parts, index, count, depth):
                        continue
            here = (*where, f"{label}:{structured.node_path(nodes, index, paths) or '$'}")
            if isinstance(value, dict | list):
                fields = structured.scalars(value)
                if fields:
                    yield FieldGroup(here, steps, fields)
            elif isinstance(value, str | bytes):
                data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
                yield from self.visit(here, steps, data, depth + 1, in_protobuf=label == "protobuf", plain=plain)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                yield from self._segment(here, steps, str(value).encode())
                if isinstance(value, int) and -(2**63) <= value < 0:  # a signed varint: its unsigned twin
                    yield from self._segment(here, steps, str(value + 2**64).encode())

    def _fields(self, where: tuple[str, ...], steps: tuple[str, ...], data: bytes, depth: int,
                label: str, plain: bool = False) -> Generator[Item, None, bool]:
        try:
            fields = structured.parse_form(data, self.limits.max_fields)
        except ValueError as exc:
            self._note(where, label, f"could not decode: {short(exc)}")
            return False
        if not fields:
            return False
        steps = (*steps, label)
        parts = (quiet_parts([value for _key, value in fields], len(fields), self.gate, self.limits)
                 if self.gate is not None and len(fields) >= BATCH else None)
        if parts is None or parts.located:
            values: list[tuple[str, Scalar]] = [(k, v.decode("utf-8", "replace")) for k, v in fields]
            yield FieldGroup((*where, label), steps, tuple(values))
        for index, (key, value) in enumerate(fields):
            if parts is not None and index not in parts.loud and self._counted(parts, index, 1, depth):
                continue
            yield from self.visit((*where, f"{label}:{key}"), steps, value, depth + 1, plain=plain)
        return True

    def _counted(self, parts: Parts, index: int, count: int, depth: int) -> bool:
        """Count a quiet part's `count` segments (and its decoded runs' segments and bytes) as its visit would,
        unless that reaches a limit (then it is visited: its notes say so)."""
        runs, size = parts.decoded.get(index, (0, 0)) if depth + 1 < self.limits.max_depth else (0, 0)
        if (self._segments + count + runs < self.limits.max_segments
                and self._decoded + size <= self.limits.max_decoded):
            self._segments += count + runs
            self._decoded += size
            return True
        return False

    def _multipart(self, where: tuple[str, ...], steps: tuple[str, ...], data: bytes, depth: int,
                   boundary: str) -> Generator[Item, None, bool]:
        try:
            parts = structured.parse_multipart(data, boundary, self.limits.max_fields)
        except ValueError as exc:
            self._note(where, "multipart", f"could not decode: {short(exc)}")
            return False
        for part in parts:
            yield from self.visit((*where, f"multipart:{part.name}"), (*steps, "multipart"), part.body, depth + 1,
                                  part.content_type)
        return True

    def _base64(self, where: tuple[str, ...], steps: tuple[str, ...], data: bytes, depth: int) -> Iterator[Item]:
        for run in decoded_runs(data, self.limits.max_base64_runs, self.limits.max_base64_looked):
            if isinstance(run, str):
                self._note(where, "base64", run)
                return
            label, decoded = run
            if self._take(where, len(decoded)):
                yield from self.visit((*where, label), (*steps, "base64"), decoded, depth + 1)

    def _inflate(self, where: tuple[str, ...], codec: str, data: bytes, declared: bool) -> bytes | None:
        inflated, problem = inflate_within(codec, data, self.limits.max_decoded - self._decoded, declared)
        if problem is not None:
            self._note(where, codec, problem)
        if inflated is not None:
            self._decoded += len(inflated)
        return inflated

    def _segment(self, where: tuple[str, ...], steps: tuple[str, ...], data: bytes,
                 quiet: bool = False) -> Iterator[Segment]:
        self._segments += 1
        if self._segments == self.limits.max_segments + 1:
            self._note(where, "walker", f"more than {self.limits.max_segments} values: rest not scanned")
        if self._segments <= self.limits.max_segments and data:
            yield Segment(where, steps, data, quiet)

    def _take(self, where: tuple[str, ...], size: int) -> bool:
        if self._decoded + size > self.limits.max_decoded:
            self._note(where, "walker", "decode budget exhausted: rest not decoded")
            return False
        self._decoded += size
        return True

    def _note(self, where: tuple[str, ...], decoder: str, problem: str) -> None:
        note = Note(where, decoder, problem)
        if note not in self.notes and len(self.notes) < 100:
            self.notes.append(note)


@dataclass(frozen=True, slots=True)
class _Rendered:
    """A JSON document, and whether the walker's str() of each number is spelled in the text."""

    doc: Any
    same: bool


def _parse_protobuf_quick(data: bytes) -> dict[Any, Any]:
    return structured.parse_protobuf(data, why=False)


def _parse_json_quiet(data: bytes) -> _Rendered:
    doc, same = structured.parse_json_rendered(data)
    return _Rendered(doc, same)


def _binary(data: bytes) -> bool:
    return _CONTROL.search(data, 0, 4096) is not None

