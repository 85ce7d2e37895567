"""Parsers for the structured formats bodies come in: JSON, forms, multipart, cookies, protobuf.

Each is a pure function over bytes that returns plain data or raises ValueError; walking the
result, recursion and limits belong to `decoders`.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import json
import re
import threading
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

import blackboxprotobuf
import orjson

Scalar = str | int | float
# key=value&...: the first value must not be empty or start with '=' (Base64 padding looks like "key=")
_FORM = re.compile(rb"[A-Za-z0-9_.\-\[\]%*+]{1,64}=[^\s&=][^\s&]*(?:&[A-Za-z0-9_.\-\[\]%*+]{1,64}(?:=[^\s&]*)?)*&?")
_BASE64_CHARS = re.compile(rb"[A-Za-z0-9+/=\s]*")


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a multipart body."""

    name: str
    content_type: str
    body: bytes


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """'Multipart/Form-Data; boundary=x' -> ('multipart/form-data', {'boundary': 'x'})."""
    mime, params = _media_type(content_type)
    return mime, dict(params)


def mime_type(content_type: str) -> str:
    """'Multipart/Form-Data; boundary=x' -> 'multipart/form-data' (media_type without its parameters)."""
    return _media_type(content_type)[0]


@functools.lru_cache(maxsize=256)  # a capture repeats a handful of Content-Types; email.Message is slow
def _media_type(content_type: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    msg = Message()
    msg["content-type"] = content_type
    params = tuple((k.lower(), str(v)) for k, v in msg.get_params(failobj=[])[1:])
    return msg.get_content_type(), params


def is_json_type(mime: str) -> bool:
    subtype = mime.partition("/")[2]
    return subtype == "json" or subtype.endswith("+json")


def looks_like_json(data: bytes) -> bool:
    head = data[:64].lstrip()
    return head[:1] in (b"{", b"[")


def looks_like_form(data: bytes) -> bool:
    return _FORM.fullmatch(data.strip()) is not None


def parse_json(data: bytes) -> Any:
    """A JSON document; ValueError (including bad UTF-8 and too deep nesting) if it is not one."""
    extra = extra_data(data)
    if extra is not None:
        raise ValueError(extra)  # raised where it is made: a local holding it would make a reference cycle
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply to parse") from None


def parse_json_rendered(data: bytes) -> tuple[Any, bool]:
    """`parse_json` with every number left out (None), and whether str() of each is a prefix of its text.

    When it is, every digit the walker would scan of a number is in `data` as it stands (a negative
    integer is not: the walker also scans its unsigned twin; nor is 1e3 or a float with more digits
    than a double holds). The numbers are collected and compared in C: no Python call per number.
    """
    extra = extra_data(data)
    if extra is not None:
        raise ValueError(extra)
    numbers = _NUMBERS
    floats, ints = numbers.floats, numbers.ints
    floats.clear()
    ints.clear()
    try:  # what json.loads(data, parse_float=..., parse_int=...) does, without a new decoder per call
        doc = numbers.decoder.decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except RecursionError:
        raise ValueError("nested too deeply to parse") from None
    same = "-" not in "".join(ints) and all(map(str.startswith, floats, map(str, map(float, floats))))
    floats.clear()
    ints.clear()
    return doc, same


#: orjson's word for a document followed by more than white space (json's "Extra data").
_TRAILING = "unexpected content after document"
#: Below this many brackets a document nests too shallow for json's recursion limit (orjson allows 1024 levels).
_SHALLOW = 500


def extra_data(data: bytes) -> str | None:
    """json's error message for `data` when it is one JSON document and then more ("Extra data"), told by orjson.

    A body of concatenated documents is common, and json parses the whole first one before it says so;
    orjson reads it several times faster, and counts the error's line, column and character as json does.
    orjson accepts no document json refuses (but one nested past json's recursion limit: hence _SHALLOW),
    and where it refuses one json reads (NaN, lone surrogates, a BOM; invalid UTF-8 anywhere is refused
    first) its error is another, and json decides; so it does for what json would read as UTF-16 or UTF-32
    (a NUL in the first two bytes). A document orjson parses is never taken from it (it makes integers past
    64 bits floats). None: ask json.
    """
    if b"\x00" in data[:2]:
        return None
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        end = exc.pos
        before = end if data.isascii() else len(data)  # a character position: the bytes before it, or all of them
        if exc.msg == _TRAILING and data.count(b"[", 0, before) + data.count(b"{", 0, before) < _SHALLOW:
            return f"Extra data: line {exc.lineno} column {exc.colno} (char {end})"
    return None


class _Numbers(threading.local):
    """A thread's decoder whose hooks keep each number's text (json.loads builds a decoder per call: 2 us)."""

    def __init__(self) -> None:
        self.floats: list[str] = []
        self.ints: list[str] = []
        self.decoder = json.JSONDecoder(parse_float=self.floats.append, parse_int=self.ints.append)


_NUMBERS = _Numbers()


def json_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def parse_form(data: bytes, max_fields: int) -> list[tuple[str, bytes]]:
    """Fields of an application/x-www-form-urlencoded body or a query string, values as bytes."""
    text = data.decode("utf-8", "surrogateescape")
    pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields, encoding="utf-8",
                      errors="surrogateescape")
    return [(k, v.encode("utf-8", "surrogateescape")) for k, v in pairs]


def parse_cookies(header: str) -> list[tuple[str, bytes]]:
    """name=value pairs of a Cookie header (lenient: no quoting rules enforced)."""
    out = []
    for item in header.split(";"):
        name, sep, value = item.strip().partition("=")
        if sep and name:
            out.append((name, value.strip().strip('"').encode("utf-8", "surrogateescape")))
    return out


def parse_multipart(data: bytes, boundary: str, max_parts: int) -> list[Part]:
    """The parts of a multipart body; Content-Transfer-Encoding base64 is undone."""
    if not boundary:
        raise ValueError("multipart body without a boundary parameter")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    chunks = data.split(delimiter)
    if len(chunks) < 2:
        raise ValueError("boundary not found in the body")
    parts = []
    for index, chunk in enumerate(chunks[1:max_parts + 1]):
        if chunk.startswith(b"--"):
            break
        head, sep, body = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = chunk.lstrip(b"\n").partition(b"\n\n")
        headers = Message()
        for line in head.decode("latin-1").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip()] = value.strip()
        body = body.removesuffix(b"\r\n").removesuffix(b"\n")
        if headers.get("content-transfer-encoding", "").strip().lower() == "base64":
            with contextlib.suppress(binascii.Error):  # left as it is: the raw bytes are still scanned
                body = binascii.a2b_base64(body)
        param = headers.get_param("name", header="content-disposition")
        label = param if isinstance(param, str) else str(index)
        parts.append(Part(label, str(headers.get("content-type", "")), body))
    return parts


class NotProtobuf(ValueError):
    """bbpb's refusal, worded only when read: most binary is not protobuf, and only a declared body's note says why."""

    def __init__(self, cause: Exception) -> None:
        super().__init__()
        self.cause = cause

    def __str__(self) -> str:
        return f"not a protobuf message: {self.cause}"


def parse_protobuf(data: bytes, why: bool = True) -> dict[Any, Any]:
    """A protobuf message decoded without a schema: {field number: value or list of values}.

    `why`: the refusal says bbpb's reason (a note quotes it); without it, bytes whose fields bbpb would
    refuse to frame are refused before bbpb is asked (see `unframed`).
    """
    if data[:1] and data[0] < 8:
        # field number 0 is reserved: protobuf's own parsers refuse it ("invalid tag (zero)"), while bbpb
        # would walk a megabyte of zeros as half a million fields (seconds per body)
        raise NotProtobuf(ValueError("the first tag names field 0"))
    if not why and unframed(data):
        raise NotProtobuf(ValueError("its fields do not frame"))
    try:
        message, _typedef = blackboxprotobuf.decode_message(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except Exception as exc:  # bbpb raises many types on arbitrary bytes; all mean "not protobuf"
        raise NotProtobuf(exc) from None
    if not isinstance(message, dict) or not message:
        raise ValueError("empty protobuf message")
    return message


#: bbpb's largest varint (blackboxprotobuf.lib.types.varint.MAX_UVARINT)
_MAX_UVARINT = (1 << 64) - 1


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    """A varint at `pos` as bbpb reads one (decode_uvarint), and where it ends; -1 where bbpb refuses it.

    bbpb refuses one that runs past the end, that is longer than it need be (its last byte 0), or that is
    larger than 64 bits: every varint of more than 10 bytes is one of those.
    """
    start, value, shift = pos, 0, 0
    try:
        byte = data[pos]
        while byte & 0x80:
            if shift == 63:
                return -1, pos
            value |= (byte & 0x7F) << shift
            shift += 7
            pos += 1
            byte = data[pos]
    except IndexError:
        return -1, pos
    value |= byte << shift
    pos += 1
    if (byte == 0 and pos - start > 1) or value > _MAX_UVARINT:
        return -1, pos
    return value, pos


def unframed(data: bytes) -> bool:
    """Whether bbpb refuses `data` before it decodes any value: its first pass, which frames the message's
    fields (length_delim._group_by_number), would raise.

    It raises on a tag or a varint it refuses (_uvarint), a group or unknown wire type, a field whose
    length runs past the end, and a field number seen before with another wire type. Most binary that is
    not protobuf fails within a few fields; False also where bbpb's own reading would be needed (a length
    of 2**63 or more is negative to it).
    """
    end, pos = len(data), 0
    wires: dict[int, int] = {}
    while pos < end:
        tag, pos = _uvarint(data, pos)
        if tag < 0:
            return True
        wire = tag & 7
        if wires.setdefault(tag >> 3, wire) != wire:
            return True
        if wire == 0:
            value, after = _uvarint(data, pos)
            if value < 0:
                return True
            length = after - pos
        elif wire == 1:
            length = 8
        elif wire == 5:
            length = 4
        elif wire == 2:
            size, after = _uvarint(data, pos)
            if size < 0:
                return True
            if size >= 1 << 63:
                return False
            length = size + after - pos
        else:
            return True
        if pos + length > end:
            return True
        pos += length
    return False


#: One node of a tree: its parent's index (-1 for the root), its key there, its value, and whether it lies
#: deeper than the walk goes (then it is not walked into).
Node = tuple[int, Any, Any, bool]


def tree_nodes(root: Any, max_depth: int) -> list[Node]:
    """Every node of a JSON or protobuf tree, depth-first (an object's members and a list's items in their
    order), no recursion; the paths are built only where asked for (node_path)."""
    nodes: list[Node] = []
    stack: list[tuple[int, Any, Any, int]] = [(-1, None, root, 0)]
    while stack:
        parent, key, value, depth = stack.pop()
        index = len(nodes)
        if depth > max_depth:
            nodes.append((parent, key, value, True))
            continue
        nodes.append((parent, key, value, False))
        if isinstance(value, dict):
            stack += [(index, k, v, depth + 1) for k, v in reversed(value.items())]
        elif isinstance(value, list):
            last = len(value) - 1
            stack += [(index, last - i, v, depth + 1) for i, v in enumerate(reversed(value))]
    return nodes


def node_path(nodes: list[Node], index: int, known: dict[int, str]) -> str:
    """The path of nodes[index] ("" for the root, then json_path's spelling); `known` keeps the paths built."""
    path = known.get(index)
    if path is None:
        parent, key = nodes[index][0], nodes[index][1]
        path = "" if parent < 0 else json_path(node_path(nodes, parent, known), key)
        known[index] = path
    return path


def scalars(value: dict[Any, Any] | list[Any]) -> tuple[tuple[str, Scalar], ...]:
    """The scalar members of one object or array (input for the location check)."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return tuple((str(k), v) for k, v in items if isinstance(v, str | int | float) and not isinstance(v, bool))
