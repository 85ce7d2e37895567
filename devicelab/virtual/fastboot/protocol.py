"""Fastboot over TCP: the `FB01` handshake, then every message both ways is an 8-byte big-endian
length followed by that many bytes.

Replies are at most 64 bytes (`OKAY`, `FAIL`, `INFO` or `DATA` plus text): the client reads them
into a 64-byte buffer, so anything longer would be read as a second, garbled reply.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

HANDSHAKE = b"FB01"
HEADER = struct.Struct(">Q")
MAX_REPLY = 64
#: Real clients send commands of at most 64 bytes; anything far larger is not a command.
MAX_COMMAND = 4096
#: Download data is read from the socket in pieces of this size.
CHUNK = 1024 * 1024


class ProtocolError(Exception):
    """The peer broke the framing: the connection cannot go on."""


class HandshakeError(ProtocolError):
    """The peer does not speak fastboot at all: there is no one to send a FAIL to."""


async def accept_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
    """Read the client's `FBnn` and answer with our version."""
    try:
        hello = await asyncio.wait_for(reader.readexactly(4), timeout)
    except asyncio.IncompleteReadError:
        raise HandshakeError("connection closed during the handshake") from None
    if hello[:2] != b"FB" or not hello[2:].isdigit():
        raise HandshakeError(f"bad handshake {hello!r}")
    writer.write(HANDSHAKE)
    await writer.drain()


def encode_reply(kind: bytes, text: str = "") -> bytes:
    """One framed reply; the text is cut so the whole reply fits the client's 64-byte buffer."""
    payload = (kind + text.encode("utf-8", "replace"))[:MAX_REPLY]
    return HEADER.pack(len(payload)) + payload


class FrameReader:
    """Reads framed messages: commands one frame each; download data across any framing."""

    def __init__(self, reader: asyncio.StreamReader, idle_timeout: float) -> None:
        self._reader = reader
        self._idle_timeout = idle_timeout

    async def _read(self, count: int) -> bytes:
        return await asyncio.wait_for(self._reader.readexactly(count), self._idle_timeout)

    async def _length(self) -> int:
        (length,) = HEADER.unpack(await self._read(HEADER.size))
        return int(length)

    async def command(self) -> bytes | None:
        """The next command, or None when the client closed the connection between commands."""
        try:
            header = await asyncio.wait_for(self._reader.readexactly(HEADER.size), self._idle_timeout)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise ProtocolError("connection closed inside a frame header") from None
            return None
        (length,) = HEADER.unpack(header)
        if length > MAX_COMMAND:
            raise ProtocolError(f"a {length}-byte frame where a command was expected")
        return await self._read(length)

    async def payload(self, size: int) -> AsyncIterator[bytes]:
        """Yield exactly `size` bytes of download data, however the client split it into frames.

        A frame that runs past the announced size is a framing error: its tail would otherwise
        be read as commands.
        """
        remaining = size
        left_in_frame = 0
        while remaining:
            if left_in_frame == 0:
                left_in_frame = await self._length()
                if left_in_frame > remaining:
                    raise ProtocolError(
                        f"a {left_in_frame}-byte data frame where {remaining} bytes of download were left"
                    )
                continue
            piece = await self._read(min(left_in_frame, CHUNK))
            left_in_frame -= len(piece)
            remaining -= len(piece)
            yield piece
