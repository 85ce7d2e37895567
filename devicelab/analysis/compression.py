"""Bounded decompression: gzip, deflate, brotli and zstd, never more than a set number of bytes out.

mitmproxy's own decoders inflate without a limit, so a compression bomb in a captured body
would exhaust memory; these stop at `limit` and say the output was cut.
"""

from __future__ import annotations

import contextlib
import io
import zlib
from dataclasses import dataclass

import brotli
import zstandard

#: Content-Encoding names and the magic-less aliases they are known by.
CODECS = ("gzip", "deflate", "br", "zstd")
_ALIASES = {"x-gzip": "gzip", "zlib": "deflate", "brotli": "br", "x-zstd": "zstd"}


class DecodeError(Exception):
    """The data is not valid in the codec it claims or appears to be in."""


@dataclass(frozen=True, slots=True)
class Inflated:
    data: bytes
    truncated: bool  # the output reached the limit and was cut there
    incomplete: bool = False  # the stream ended early; `data` is what it held


def codec_name(name: str) -> str | None:
    """The canonical codec for a Content-Encoding token; None for identity; KeyError if unknown."""
    token = name.strip().lower()
    if token in ("", "identity", "none"):
        return None
    token = _ALIASES.get(token, token)
    if token not in CODECS:
        raise KeyError(token)
    return token


def sniff(data: bytes) -> str | None:
    """The codec whose magic bytes start `data` (brotli has none)."""
    if data[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if len(data) >= 2 and data[0] == 0x78 and (data[0] << 8 | data[1]) % 31 == 0:
        return "deflate"
    return None


def inflate(codec: str, data: bytes, limit: int) -> Inflated:
    """Decompress `data` with `codec`, keeping at most `limit` bytes of output."""
    if codec == "gzip":
        return _zlib(data, 31, limit)
    if codec == "deflate":
        try:
            return _zlib(data, 15, limit)
        except DecodeError:
            return _zlib(data, -15, limit)  # raw deflate, as some servers send
    if codec == "br":
        return _brotli(data, limit)
    if codec == "zstd":
        return _zstd(data, limit)
    raise DecodeError(f"unknown codec {codec!r}")


def _zlib(data: bytes, wbits: int, limit: int) -> Inflated:
    # the common case, one whole stream within the limit, returns zlib's bytes as they are (no copies)
    with contextlib.suppress(zlib.error):  # the loop below tells the rest, errors included
        obj = zlib.decompressobj(wbits)
        whole = obj.decompress(data, limit + 1)
        if obj.eof and len(whole) <= limit and (wbits != 31 or obj.unused_data[:2] != b"\x1f\x8b"):
            return Inflated(whole, truncated=False)
    out = bytearray()
    rest = data
    try:
        while rest:  # gzip files may hold several members
            obj = zlib.decompressobj(wbits)
            out += obj.decompress(rest, limit + 1 - len(out))
            if len(out) > limit:
                return Inflated(bytes(out[:limit]), truncated=True)
            if not obj.eof:
                out += obj.flush()
                return Inflated(bytes(out[:limit]), truncated=len(out) > limit, incomplete=True)
            rest = obj.unused_data
            if wbits != 31 or rest[:2] != b"\x1f\x8b":
                break
    except zlib.error as exc:
        if not out:
            raise DecodeError(str(exc)) from None
        return Inflated(bytes(out), truncated=False, incomplete=True)
    return Inflated(bytes(out), truncated=False)


def _brotli(data: bytes, limit: int) -> Inflated:
    # brotli has no output cap: feed a few bytes at a time (one byte can inflate to ~8 MB)
    decompressor = brotli.Decompressor()
    out = bytearray()
    try:
        for pos in range(0, len(data), 4):
            out += decompressor.process(data[pos:pos + 4])
            if len(out) > limit:
                return Inflated(bytes(out[:limit]), truncated=True)
            if decompressor.is_finished():
                break
    except brotli.error as exc:
        if not out:
            raise DecodeError(f"brotli: {exc}") from None
        return Inflated(bytes(out), truncated=False, incomplete=True)
    return Inflated(bytes(out), truncated=False, incomplete=not decompressor.is_finished())


def _zstd(data: bytes, limit: int) -> Inflated:
    out = bytearray()
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
            while len(out) <= limit:
                chunk = reader.read(min(1 << 20, limit + 1 - len(out)))
                if not chunk:
                    break
                out += chunk
    except zstandard.ZstdError as exc:
        if not out:
            raise DecodeError(f"zstd: {exc}") from None
        return Inflated(bytes(out), truncated=False, incomplete=True)
    if len(out) > limit:
        return Inflated(bytes(out[:limit]), truncated=True)
    return Inflated(bytes(out), truncated=False)
