"""Android sparse images: what the virtual bootloader expands, and what the writer produces."""

from __future__ import annotations

import contextlib
import os
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devicelab.virtual.fastboot import sparse
from devicelab.virtual.fastboot.sparse import BLOCK, SparseError, SparseWriter

MiB = 1024 * 1024


def test_round_trip_with_raw_and_fill_chunks() -> None:
    data = os.urandom(3 * BLOCK) + b"\0" * (5 * BLOCK) + b"\xab\xcd\xef\x01" * (2 * BLOCK // 4) + os.urandom(BLOCK)
    image = sparse.to_sparse(data)
    assert sparse.is_sparse(image)
    assert len(image) < len(data)  # the fill runs were not stored as data
    assert sparse.read_header(image).expanded_size == len(data)
    assert bytes(sparse.apply(image, b"", MiB)) == data


def test_dont_care_keeps_what_the_partition_held() -> None:
    base = os.urandom(4 * BLOCK)
    new = os.urandom(BLOCK)
    image = SparseWriter().dont_care(1).raw(new).dont_care(2).build()
    assert bytes(sparse.apply(image, base, MiB)) == base[:BLOCK] + new + base[2 * BLOCK :]


def test_dont_care_past_the_old_contents_reads_as_zeros() -> None:
    image = SparseWriter().raw(b"\x01" * BLOCK).dont_care(2).build()
    assert bytes(sparse.apply(image, b"", MiB)) == b"\x01" * BLOCK + b"\0" * (2 * BLOCK)


def test_crc_chunk_is_accepted() -> None:
    data = os.urandom(2 * BLOCK)
    image = SparseWriter().raw(data).crc32(zlib.crc32(data)).build()
    assert bytes(sparse.apply(image, b"", MiB)) == data


def test_resparsed_parts_applied_in_sequence_assemble_the_image() -> None:
    first, second = os.urandom(2 * BLOCK), os.urandom(3 * BLOCK)
    part1 = SparseWriter().raw(first).dont_care(3).build()
    part2 = SparseWriter().dont_care(2).raw(second).build()
    partition = sparse.apply(part1, b"", MiB)
    partition = sparse.apply(part2, partition, MiB)
    assert bytes(partition) == first + second


@pytest.mark.parametrize(
    ("image", "status"),
    [
        (b"\x3a\xff\x26\xed", "Invalid Parameter"),  # magic, then nothing
        (SparseWriter().raw(b"\1" * BLOCK).build()[:-100], "Invalid Parameter"),  # cut inside a chunk
        (SparseWriter().raw(b"\1" * BLOCK).build()[:-BLOCK - 6], "Bad Buffer Size"),  # cut inside a chunk header
        (SparseWriter().raw(b"\1" * BLOCK).build(total_blocks=2), "Volume Corrupted"),
        (SparseWriter().raw(b"\1" * BLOCK).build(total_blocks=1 << 20), "Volume Full"),
    ],
    ids=["header-only", "truncated-chunk", "truncated-chunk-header", "short-of-blocks", "too-large"],
)
def test_malformed_images_are_refused_with_the_bootloader_status(image: bytes, status: str) -> None:
    with pytest.raises(SparseError) as caught:
        sparse.apply(image, b"", MiB)
    assert caught.value.status == status


def test_unknown_chunk_type_is_refused() -> None:
    image = bytearray(SparseWriter().raw(b"\1" * BLOCK).build())
    struct.pack_into("<H", image, sparse.FILE_HEADER.size, 0xCAFE)
    with pytest.raises(SparseError, match="unknown type 0xcafe"):
        sparse.apply(image, b"", MiB)


def test_chunk_claiming_more_blocks_than_the_header_is_refused() -> None:
    image = bytearray(SparseWriter().fill(b"\0\0\0\0", 4).build())
    struct.pack_into("<I", image, 16, 2)  # total_blks: 2, the chunk covers 4
    with pytest.raises(SparseError) as caught:
        sparse.apply(image, b"", MiB)
    assert caught.value.status == "Volume Full"


def test_writer_rejects_unaligned_data() -> None:
    with pytest.raises(ValueError, match="multiple of 4096"):
        sparse.to_sparse(b"x" * 100)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([b"\0" * 4, b"\xff" * 4, b"\x12\x34\x56\x78", None]), min_size=1, max_size=12))
def test_any_block_pattern_round_trips(pattern: list[bytes | None]) -> None:
    data = b"".join(os.urandom(BLOCK) if value is None else value * (BLOCK // 4) for value in pattern)
    assert bytes(sparse.apply(sparse.to_sparse(data), os.urandom(BLOCK), MiB)) == data


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_never_escapes_as_anything_but_sparse_error(noise: bytes) -> None:
    header = sparse.FILE_HEADER.pack(sparse.MAGIC, 1, 0, 28, 12, BLOCK, 2, 3, 0)
    with contextlib.suppress(SparseError):
        sparse.apply(header + noise, b"", MiB)
