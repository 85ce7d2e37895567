"""The shell protocol v2 packet format (`[id u8][len u32 LE][data]`), pure functions."""

from __future__ import annotations

import struct
from collections.abc import Iterator

ID_STDIN = 0
ID_STDOUT = 1
ID_STDERR = 2
ID_EXIT = 3
ID_CLOSE_STDIN = 4
ID_WINDOW_SIZE = 5

PACKET_HEADER = struct.Struct("<BI")
#: adbd's shell buffer; larger packets from a host are a protocol error.
MAX_PACKET_DATA = 1024 * 1024


class ShellProtocolError(Exception):
    """A v2 packet that cannot be one."""


def pack(packet_id: int, data: bytes) -> bytes:
    return PACKET_HEADER.pack(packet_id, len(data)) + data


def pack_exit(code: int) -> bytes:
    return pack(ID_EXIT, bytes([code & 0xFF]))


class PacketParser:
    """Reassembles v2 packets from stream chunks (a packet may span WRTEs)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        self._buffer += data
        while len(self._buffer) >= PACKET_HEADER.size:
            packet_id, length = PACKET_HEADER.unpack_from(self._buffer)
            if length > MAX_PACKET_DATA:
                raise ShellProtocolError(f"shell packet {packet_id} of {length} bytes")
            end = PACKET_HEADER.size + length
            if len(self._buffer) < end:
                return
            payload = bytes(self._buffer[PACKET_HEADER.size : end])
            del self._buffer[:end]
            yield packet_id, payload


def parse_shell_service(args: str) -> tuple[bool, str, dict[str, str], str]:
    """Split `shell[,v2][,raw|,pty][,TERM=..]:CMD` (without the `shell` prefix).

    Returns (v2, type, env, command); type is "raw" or "pty" (default: pty when the command is
    empty, raw otherwise, as adbd decides)."""
    head, _, command = args.partition(":")
    v2 = False
    kind = ""
    env: dict[str, str] = {}
    for arg in head.split(","):
        if arg == "v2":
            v2 = True
        elif arg in ("raw", "pty"):
            kind = arg
        elif arg.startswith("TERM="):
            env["TERM"] = arg[5:]
    if not kind:
        kind = "pty" if not command else "raw"
    return v2, kind, env, command
