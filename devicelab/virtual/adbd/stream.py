"""One adb stream (an OPENed service) as seen from the device: flow-controlled both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from devicelab.virtual.adbd.protocol import A_CLSE, A_OKAY, A_WRTE

#: Unread host data above which the device holds back its OKAY (the host then waits).
INBOUND_HIGH_WATER = 1024 * 1024
#: Queued output above which `write` waits for the host to catch up.
OUTBOUND_HIGH_WATER = 2 * 1024 * 1024


class StreamClosed(Exception):
    """The host closed the stream, or the connection went away."""


#: A service: serves one accepted stream until it is done (the stream is closed after it).
Handler = Callable[["AdbStream"], Awaitable[None]]


class PacketSink(Protocol):
    """What a stream needs from its connection."""

    max_payload: int

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None: ...

    def forget(self, local_id: int) -> None: ...


class AdbStream:
    """Device end of a stream. `write` queues data and returns; the queue goes out one WRTE at
    a time, each after the host's OKAY for the previous one (small writes coalesce)."""

    def __init__(self, sink: PacketSink, local_id: int, remote_id: int, service: str) -> None:
        self.sink = sink
        self.local_id = local_id
        self.remote_id = remote_id
        self.service = service
        self.closed = asyncio.Event()  # set when the stream is over, whoever ended it
        self._outbuf = bytearray()
        self._in_flight = False
        self._closing = False
        self._drained = asyncio.Event()
        self._drained.set()
        self._inbuf = bytearray()
        self._eof = False
        self._ack_owed = False
        self._readable = asyncio.Event()

    # -- from the connection -------------------------------------------------------------
    def on_write(self, data: bytes) -> None:
        """Host data arrived: keep it, and OKAY it unless the reader is far behind."""
        if self.closed.is_set():
            return
        self._inbuf += data
        self._readable.set()
        if len(self._inbuf) < INBOUND_HIGH_WATER:
            self.sink.send(A_OKAY, self.local_id, self.remote_id)
        else:
            self._ack_owed = True

    def on_okay(self) -> None:
        self._in_flight = False
        self._pump()

    def on_close(self) -> None:
        """The host closed the stream (never answered with CLSE) or the link dropped."""
        self._eof = True
        self._finish()

    # -- output --------------------------------------------------------------------------
    async def write(self, data: bytes) -> None:
        """Queue data for the host; waits only while too much is queued."""
        if self.closed.is_set() or self._closing:
            raise StreamClosed(self.service)
        if not data:
            return
        self._outbuf += data
        self._pump()
        while len(self._outbuf) > OUTBOUND_HIGH_WATER:
            self._drained.clear()
            await self._drained.wait()
            if self.closed.is_set():
                raise StreamClosed(self.service)

    def close(self) -> None:
        """End the stream from the device side: the queued data goes first, then CLSE."""
        if self.closed.is_set() or self._closing:
            return
        self._closing = True
        self._pump()

    async def wait_sent(self) -> None:
        """Wait until everything queued went out (or the stream is gone)."""
        while (self._outbuf or self._in_flight) and not self.closed.is_set():
            self._drained.clear()
            await self._drained.wait()

    def _pump(self) -> None:
        if self.closed.is_set() or self._in_flight:
            return
        if self._outbuf:
            size = self.sink.max_payload
            chunk = bytes(self._outbuf[:size])
            del self._outbuf[:size]
            self._in_flight = True
            self.sink.send(A_WRTE, self.local_id, self.remote_id, chunk)
            if len(self._outbuf) <= OUTBOUND_HIGH_WATER:
                self._drained.set()
            return
        self._drained.set()
        if self._closing:
            # Only after the last WRTE was OKAYed: CLSE never overtakes data the host still holds.
            self.sink.send(A_CLSE, self.local_id, self.remote_id)
            self._finish()

    def _finish(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self._drained.set()
        self._readable.set()
        self._outbuf.clear()
        self.sink.forget(self.local_id)

    # -- input ---------------------------------------------------------------------------
    @property
    def at_eof(self) -> bool:
        return self._eof and not self._inbuf

    async def read_some(self) -> bytes:
        """Whatever host data is there (waits for some); b'' once the host closed."""
        while not self._inbuf:
            if self._eof or self.closed.is_set():
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = bytes(self._inbuf)
        self._inbuf.clear()
        self._settle_ack()
        return data

    async def read_exactly(self, count: int) -> bytes:
        """Exactly `count` bytes; StreamClosed when the host closes first."""
        while len(self._inbuf) < count:
            if self._eof or self.closed.is_set():
                raise StreamClosed(f"{self.service}: stream closed with {len(self._inbuf)} of {count} bytes")
            self._readable.clear()
            await self._readable.wait()
        data = bytes(self._inbuf[:count])
        del self._inbuf[:count]
        self._settle_ack()
        return data

    def _settle_ack(self) -> None:
        if self._ack_owed and len(self._inbuf) < INBOUND_HIGH_WATER and not self.closed.is_set():
            self._ack_owed = False
            self.sink.send(A_OKAY, self.local_id, self.remote_id)
