"""Android sparse images (libsparse format 1.0), as `fastboot` sends them and `img2simg` writes
them.

A sparse image is a 28-byte file header, then chunks: RAW (blocks of data), FILL (a 4-byte value
repeated), DONT_CARE (blocks the image does not touch) and CRC32 (a checksum, ignored here as
the Qualcomm bootloader does). `fastboot` splits an image larger than the target's download
buffer into several sparse images that each cover the whole partition, with DONT_CARE over the
parts the others carry: applied in sequence they assemble the image, so DONT_CARE must keep what
the partition already holds.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, field

MAGIC = 0xED26FF3A
FILE_HEADER = struct.Struct("<IHHHHIIII")  # magic, major, minor, file_hdr_sz, chunk_hdr_sz, blk_sz, blocks, chunks, crc
CHUNK_HEADER = struct.Struct("<HHII")  # type, reserved, chunk_sz (blocks), total_sz (bytes, header included)
RAW, FILL, DONT_CARE, CRC32 = 0xCAC1, 0xCAC2, 0xCAC3, 0xCAC4
BLOCK = 4096


class SparseError(Exception):
    """A sparse image cannot be applied. `status` is the EFI status text the bootloader shows."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class SparseHeader:
    block_size: int
    total_blocks: int
    total_chunks: int

    @property
    def expanded_size(self) -> int:
        return self.block_size * self.total_blocks


def is_sparse(data: bytes | bytearray | memoryview) -> bool:
    return len(data) >= 4 and struct.unpack_from("<I", data)[0] == MAGIC


def read_header(data: bytes | bytearray | memoryview) -> SparseHeader:
    """The file header, checked; SparseError when it is not one this format allows."""
    if len(data) < FILE_HEADER.size:
        raise SparseError("Invalid Parameter", "image is shorter than a sparse header")
    magic, major, _minor, file_hdr_sz, chunk_hdr_sz, blk_sz, blocks, chunks, _crc = FILE_HEADER.unpack_from(data)
    if magic != MAGIC or major != 1:
        raise SparseError("Invalid Parameter", f"not a version 1 sparse image (magic {magic:#x}, major {major})")
    if file_hdr_sz != FILE_HEADER.size:
        raise SparseError("Bad Buffer Size", f"file header size {file_hdr_sz}, expected {FILE_HEADER.size}")
    if chunk_hdr_sz != CHUNK_HEADER.size:
        raise SparseError("Invalid Parameter", f"chunk header size {chunk_hdr_sz}, expected {CHUNK_HEADER.size}")
    if blk_sz == 0 or blk_sz % 4:
        raise SparseError("Invalid Parameter", f"block size {blk_sz}")
    return SparseHeader(blk_sz, blocks, chunks)


def apply(data: bytes | bytearray | memoryview, base: bytes | bytearray, partition_size: int) -> bytearray:
    """The partition contents after writing sparse image `data` over `base` (its old contents).

    The result is exactly the expanded size of the image: DONT_CARE regions keep `base`'s bytes
    (zeros where `base` is shorter). Every length is checked against the image and the partition
    before anything is allocated.
    """
    view = memoryview(data)
    header = read_header(view)
    if header.expanded_size > partition_size:
        raise SparseError(
            "Volume Full", f"image expands to {header.expanded_size} bytes; the partition has {partition_size}"
        )
    out = bytearray(header.expanded_size)
    keep = min(len(base), len(out))
    out[:keep] = base[:keep]
    offset = FILE_HEADER.size
    block = 0
    for index in range(header.total_chunks):
        if offset + CHUNK_HEADER.size > len(view):
            raise SparseError("Bad Buffer Size", f"chunk {index} header runs past the end of the image")
        kind, _reserved, blocks, total = CHUNK_HEADER.unpack_from(view, offset)
        body = total - CHUNK_HEADER.size
        if body < 0 or offset + total > len(view):
            raise SparseError("Invalid Parameter", f"chunk {index} runs past the end of the image")
        if (block + blocks) * header.block_size > len(out):
            raise SparseError("Volume Full", f"chunk {index} writes past the image's {header.total_blocks} blocks")
        start = offset + CHUNK_HEADER.size
        span = slice(block * header.block_size, (block + blocks) * header.block_size)
        if kind == RAW:
            if body != blocks * header.block_size:
                raise SparseError("Invalid Parameter", f"RAW chunk {index} has {body} bytes for {blocks} blocks")
            out[span] = view[start : start + body]
        elif kind == FILL:
            if body != 4:
                raise SparseError("Invalid Parameter", f"FILL chunk {index} has {body} bytes, expected 4")
            out[span] = bytes(view[start : start + 4]) * (blocks * header.block_size // 4)
        elif kind == DONT_CARE:
            if body != 0:
                raise SparseError("Invalid Parameter", f"DONT_CARE chunk {index} carries {body} bytes")
        elif kind == CRC32:
            if body not in (0, 4):
                raise SparseError("Invalid Parameter", f"CRC chunk {index} has {body} bytes")
        else:
            raise SparseError("Invalid Parameter", f"chunk {index} has unknown type {kind:#x}")
        block += blocks
        offset += total
    if block != header.total_blocks:
        raise SparseError("Volume Corrupted", f"chunks cover {block} blocks, header says {header.total_blocks}")
    return out


@dataclass
class SparseWriter:
    """Builds a sparse image chunk by chunk (what `img2simg` and `fastboot` write)."""

    block_size: int = BLOCK
    _chunks: list[bytes] = field(default_factory=list)
    _blocks: int = 0

    def raw(self, data: bytes) -> SparseWriter:
        if not data or len(data) % self.block_size:
            raise ValueError(f"RAW data must be a non-empty multiple of {self.block_size} bytes")
        return self._add(RAW, len(data) // self.block_size, data)

    def fill(self, value: bytes, blocks: int) -> SparseWriter:
        if len(value) != 4 or blocks < 1:
            raise ValueError("FILL takes a 4-byte value and at least one block")
        return self._add(FILL, blocks, value)

    def dont_care(self, blocks: int) -> SparseWriter:
        if blocks < 1:
            raise ValueError("DONT_CARE covers at least one block")
        return self._add(DONT_CARE, blocks, b"")

    def crc32(self, value: int) -> SparseWriter:
        return self._add(CRC32, 0, struct.pack("<I", value))

    def _add(self, kind: int, blocks: int, body: bytes) -> SparseWriter:
        self._chunks.append(CHUNK_HEADER.pack(kind, 0, blocks, CHUNK_HEADER.size + len(body)) + body)
        self._blocks += blocks
        return self

    def build(self, total_blocks: int | None = None) -> bytes:
        """The image; `total_blocks` may be larger than the chunks cover only if you want it invalid."""
        blocks = self._blocks if total_blocks is None else total_blocks
        header = FILE_HEADER.pack(
            MAGIC, 1, 0, FILE_HEADER.size, CHUNK_HEADER.size, self.block_size, blocks, len(self._chunks), 0
        )
        return header + b"".join(self._chunks)


def to_sparse(data: bytes, block_size: int = BLOCK) -> bytes:
    """A sparse image of `data` (a block multiple): runs of one repeated 4-byte value become FILL."""
    if len(data) % block_size:
        raise ValueError(f"image size {len(data)} is not a multiple of {block_size}")
    writer = SparseWriter(block_size)
    blocks = [data[i : i + block_size] for i in range(0, len(data), block_size)]

    def fill_value(block: bytes) -> bytes | None:
        return block[:4] if block == block[:4] * (block_size // 4) else None

    for value, group in itertools.groupby(blocks, key=fill_value):
        run = list(group)
        if value is None:
            writer.raw(b"".join(run))
        else:
            writer.fill(value, len(run))
    return writer.build()
