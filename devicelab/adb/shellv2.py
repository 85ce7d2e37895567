"""adb shell protocol v2 packets: `[id u8][length u32 LE][data]`."""

from __future__ import annotations

import struct
from collections.abc import Iterator

STDIN, STDOUT, STDERR, EXIT, CLOSE_STDIN, WINDOW_SIZE = range(6)
HEADER = struct.Struct("<BI")


def packet(kind: int, data: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(data)) + data


class PacketReader:
    """Feed bytes, get (kind, data) packets back as they complete."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        self._buf += data
        while len(self._buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buf)
            end = HEADER.size + length
            if len(self._buf) < end:
                return
            payload = bytes(self._buf[HEADER.size : end])
            del self._buf[:end]
            yield kind, payload

    @property
    def pending(self) -> int:
        return len(self._buf)
