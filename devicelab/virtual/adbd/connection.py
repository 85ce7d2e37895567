"""One adb transport connection (the adb server's end is a TCP socket): packets in, streams out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable

from devicelab.virtual.adbd import protocol
from devicelab.virtual.adbd.protocol import A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_WRTE, ProtocolError
from devicelab.virtual.adbd.stream import AdbStream, Handler

log = logging.getLogger(__name__)

#: Opens a service: returns its handler (run once the stream is accepted) or None to refuse.
ServiceOpener = Callable[[str], Awaitable[Handler | None]]


class AdbConnection:
    """Speaks the transport protocol on one socket; each OPEN becomes an AdbStream whose
    service runs as a task. Outgoing packets of one loop turn leave in one write."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        banner: Callable[[], bytes],
        open_service: ServiceOpener,
        on_change: Callable[[], None] = lambda: None,
        name: str = "adbd",
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = banner
        self.open_service = open_service
        self.on_change = on_change
        self.name = name
        self.max_payload = protocol.MAX_PAYLOAD
        self.checksums = True  # only hosts older than VERSION_SKIP_CHECKSUM verify them
        self.connected = False  # CNXN exchanged
        self.streams: dict[int, AdbStream] = {}
        self._next_id = 1
        self._tasks: set[asyncio.Task[None]] = set()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._closed = False
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- output --------------------------------------------------------------------------
    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        """Queue a packet; everything queued in this loop turn goes out in one write."""
        if self._closed:
            return
        self._out.append(protocol.encode(command, arg0, arg1, data, with_checksum=self.checksums))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and not self._closed:
            self.writer.write(b"".join(self._out))
        self._out.clear()

    def forget(self, local_id: int) -> None:
        self.streams.pop(local_id, None)

    # -- input ---------------------------------------------------------------------------
    async def serve(self) -> None:
        """Read packets until the host goes away or breaks the protocol, then drop everything."""
        try:
            while True:
                raw = await self.reader.readexactly(protocol.HEADER_SIZE)
                header = protocol.decode_header(raw)
                data = await self.reader.readexactly(header.data_length) if header.data_length else b""
                self._handle(header, data)
        except (asyncio.IncompleteReadError, ConnectionError):
            log.debug("%s: host went away", self.name)
        except ProtocolError as exc:
            log.warning("%s: dropping the connection: %s", self.name, exc)
        finally:
            await self.close()

    def _handle(self, header: protocol.Header, data: bytes) -> None:
        command = header.command
        if command == A_CNXN:
            self._on_connect(header, data)
        elif not self.connected:
            log.debug("%s: %s before CNXN ignored", self.name, header.name)
        elif command == A_OPEN:
            self._on_open(header.arg0, data)
        elif command == A_WRTE:
            stream = self.streams.get(header.arg1)
            if stream is not None and stream.remote_id == header.arg0:
                stream.on_write(data)
        elif command == A_OKAY:
            stream = self.streams.get(header.arg1)
            if stream is not None and stream.remote_id == header.arg0:
                stream.on_okay()
        elif command == A_CLSE:
            stream = self.streams.get(header.arg1)
            if stream is not None and header.arg0 in (0, stream.remote_id):
                stream.on_close()
        else:  # AUTH / STLS: this adbd never asks for either
            log.debug("%s: %s ignored", self.name, header.name)

    def _on_connect(self, header: protocol.Header, data: bytes) -> None:
        # A repeated CNXN is the host reconnecting the transport: its old streams are gone.
        for stream in list(self.streams.values()):
            stream.on_close()
        self.max_payload = max(4096, min(header.arg1, protocol.MAX_PAYLOAD))
        self.checksums = header.arg0 < protocol.VERSION_SKIP_CHECKSUM
        self.connected = True
        log.debug("%s: host says %r", self.name, data[:200])
        self.send(A_CNXN, protocol.VERSION, protocol.MAX_PAYLOAD, self.banner())
        self.on_change()

    def _on_open(self, remote_id: int, data: bytes) -> None:
        if remote_id == 0:
            return
        try:
            service = protocol.parse_service(data)
        except ProtocolError as exc:
            log.info("%s: refused: %s", self.name, exc)
            self.send(A_CLSE, 0, remote_id)
            return
        self._spawn(self._run_service(remote_id, service))

    async def _run_service(self, remote_id: int, service: str) -> None:
        try:
            handler = await self.open_service(service)
        except Exception:
            log.exception("%s: opening %r failed", self.name, service)
            handler = None
        if handler is None:
            log.info("%s: refused service %r", self.name, service)
            self.send(A_CLSE, 0, remote_id)
            return
        local_id = self._next_id
        self._next_id = self._next_id % 0x7FFFFFFF + 1
        stream = AdbStream(self, local_id, remote_id, service)
        self.streams[local_id] = stream
        self.send(A_OKAY, local_id, remote_id)
        try:
            await handler(stream)
        except Exception:
            log.exception("%s: service %r failed", self.name, service)
        finally:
            stream.close()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- teardown ------------------------------------------------------------------------
    async def close(self) -> None:
        """Drop the link: streams end, services are cancelled, queued output is flushed first."""
        if self._closed:
            return
        self._flush()
        self._closed = True
        self.connected = False
        for stream in list(self.streams.values()):
            stream.on_close()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            self.writer.close()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)
