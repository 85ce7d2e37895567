"""ISA-L inflates what zlib inflates, to the same bytes, and leaves zlib's word on the rest."""

from __future__ import annotations

import gzip
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devicelab.analysis import compression
from devicelab.analysis.compression import DecodeError, Inflated, inflate


def _inflated(codec: str, data: bytes, limit: int) -> Inflated | str:
    try:
        return inflate(codec, data, limit)
    except DecodeError as exc:
        return f"error: {exc}"


def _by_zlib(codec: str, data: bytes, limit: int) -> Inflated | str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compression, "isal_zlib", zlib)
        return _inflated(codec, data, limit)


def _gzip_with_header(payload: bytes, flags: int, header_crc_off: int) -> bytes:
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = deflate.compress(payload) + deflate.flush()
    head = bytearray(b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0\0\xff")
    if flags & 4:
        head += b"\x03\x00abc"
    if flags & 8:
        head += b"name\x00"
    if flags & 16:
        head += b"comment\x00"
    if flags & 2:
        head += struct.pack("<H", (zlib.crc32(bytes(head)) & 0xFFFF) ^ header_crc_off)
    return bytes(head) + body + struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)


_STREAMS = st.one_of(
    st.tuples(st.just("gzip"), st.binary(max_size=300).map(gzip.compress)),
    st.tuples(st.just("gzip"), st.builds(_gzip_with_header, st.binary(max_size=100), st.integers(0, 255),
                                         st.sampled_from([0, 1]))),
    st.tuples(st.just("deflate"), st.binary(max_size=300).map(zlib.compress)),
    st.tuples(st.just("deflate"), st.binary(max_size=300).map(lambda b: zlib.compress(b)[2:-4])),
)


@settings(max_examples=500, deadline=None)
@given(stream=_STREAMS, flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 7)), max_size=2),
       cut=st.integers(0, 8), tail=st.binary(max_size=6), limit=st.sampled_from([10, 1 << 20]))
def test_isal_inflates_as_zlib_does(stream: tuple[str, bytes], flips: list[tuple[int, int]], cut: int, tail: bytes,
                                    limit: int) -> None:
    codec, data = stream
    mutated = bytearray(data)
    for at, bit in flips:
        mutated[at % len(mutated)] ^= 1 << bit
    body = bytes(mutated[:len(mutated) - cut]) + tail
    assert _inflated(codec, body, limit) == _by_zlib(codec, body, limit)


def test_a_reserved_gzip_flag_is_zlibs_refusal() -> None:
    body = _gzip_with_header(b"payload", 0x20, 0)  # ISA-L would inflate it
    assert _inflated("gzip", body, 1 << 20) == "error: Error -3 while decompressing data: unknown header flags set"
