"""One adb transport connection (the adb server's end is a TCP socket): packets in, streams out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from devicelab.adb import keys
from devicelab.virtual.adbd import protocol
from devicelab.virtual.adbd.protocol import A_AUTH, A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_WRTE, ProtocolError
from devicelab.virtual.adbd.stream import AdbStream, Handler

log = logging.getLogger(__name__)

#: Opens a service: returns its handler (run once the stream is accepted) or None to refuse.
ServiceOpener = Callable[[str], Awaitable[Handler | None]]

#: AUTH packet types (arg0)
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3


class Authorizer(Protocol):
    """What a secure adbd asks its handset: whether to ask at all, which host keys it trusts, and
    the "Allow USB debugging?" prompt for a key it does not know."""

    def required(self) -> bool: ...

    def trusted(self) -> list[RSAPublicKey]: ...

    def ask(self, public_key: bytes, grant: Callable[[], None]) -> None: ...


class Open:
    """An adbd that lets every host in (ro.adb.secure=0, recovery)."""

    def required(self) -> bool:
        return False

    def trusted(self) -> list[RSAPublicKey]:
        return []

    def ask(self, public_key: bytes, grant: Callable[[], None]) -> None:
        grant()


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
        auth: Authorizer | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = banner
        self.open_service = open_service
        self.on_change = on_change
        self.name = name
        self.max_payload = protocol.MAX_PAYLOAD
        self.checksums = True  # only hosts older than VERSION_SKIP_CHECKSUM verify them
        self.connected = False  # the host sent CNXN: it holds a transport (maybe `unauthorized`)
        self.authorized = False  # we answered CNXN: streams may open
        self.auth: Authorizer = auth if auth is not None else Open()
        self._token = b""
        #: streams we opened (adb reverse): local id -> the host's answer (its id, or None: refused)
        self._opening: dict[int, tuple[str, asyncio.Future[AdbStream | None]]] = {}
        #: run when the link drops (what belongs to the transport goes with it: reverse listeners)
        self.on_close: list[Callable[[], None]] = []
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
        elif command == A_AUTH and self.connected and not self.authorized:
            self._on_auth(header.arg0, data)
        elif not self.authorized:
            log.debug("%s: %s before the host was let in ignored", self.name, header.name)
        elif command == A_OPEN:
            self._on_open(header.arg0, data)
        elif command == A_WRTE:
            stream = self.streams.get(header.arg1)
            if stream is not None and stream.remote_id == header.arg0:
                stream.on_write(data)
        elif command == A_OKAY and header.arg1 in self._opening:
            self._answer_open(header.arg1, header.arg0)
        elif command == A_CLSE and header.arg1 in self._opening:
            self._answer_open(header.arg1, None)
        elif command == A_OKAY:
            stream = self.streams.get(header.arg1)
            if stream is not None and stream.remote_id == header.arg0:
                stream.on_okay()
        elif command == A_CLSE:
            stream = self.streams.get(header.arg1)
            if stream is not None and header.arg0 in (0, stream.remote_id):
                stream.on_close()
        else:  # STLS: adb 29 never starts it; AUTH after the host was let in means nothing
            log.debug("%s: %s ignored", self.name, header.name)

    def _on_connect(self, header: protocol.Header, data: bytes) -> None:
        # A repeated CNXN is the host reconnecting the transport: its old streams are gone.
        for stream in list(self.streams.values()):
            stream.on_close()
        self.max_payload = max(4096, min(header.arg1, protocol.MAX_PAYLOAD))
        self.checksums = header.arg0 < protocol.VERSION_SKIP_CHECKSUM
        self.connected = True
        self.authorized = False
        log.debug("%s: host says %r", self.name, data[:200])
        if self.auth.required():
            self._send_token()
        else:
            self._let_in()
        self.on_change()

    def _let_in(self) -> None:
        if self._closed or not self.connected or self.authorized:
            return
        self.authorized = True
        self.send(A_CNXN, protocol.VERSION, protocol.MAX_PAYLOAD, self.banner())
        self.on_change()

    def _send_token(self) -> None:
        self._token = secrets.token_bytes(keys.TOKEN_SIZE)
        self.send(A_AUTH, AUTH_TOKEN, 0, self._token)

    def _on_auth(self, kind: int, data: bytes) -> None:
        """The host signs our token with each key it has; then it offers its own public key,
        and the person at the handset decides (the host lists it `unauthorized` meanwhile)."""
        if kind == AUTH_SIGNATURE:
            if self._token and any(keys.verifies(k, self._token, data) for k in self.auth.trusted()):
                self._let_in()
            else:
                self._send_token()  # the host tries its next key, then offers its public key
        elif kind == AUTH_RSAPUBLICKEY:
            self._token = b""  # a token now would restart the host's cycle at once: wait for the person
            try:
                keys.parse_android_public_key(data)
            except ValueError as exc:
                log.info("%s: host offered an unusable key: %s", self.name, exc)
                return
            self.auth.ask(data.rstrip(b"\0"), self._let_in)

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

    # -- streams the device opens (adb reverse) ------------------------------------------------
    async def open_stream(self, service: str, timeout: float = 5.0) -> AdbStream | None:
        """OPEN a stream to the host (`tcp:PORT` of a reverse rule); None when it refuses.

        Debian's adb server aborts when a device opens a host target no `reverse:forward` set up:
        callers open only what a rule names."""
        if self._closed or not self.authorized:
            return None
        local_id = self._next_id
        self._next_id = self._next_id % 0x7FFFFFFF + 1
        answer: asyncio.Future[AdbStream | None] = asyncio.get_running_loop().create_future()
        self._opening[local_id] = (service, answer)
        self.send(A_OPEN, local_id, 0, service.encode() + b"\0")
        try:
            return await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            return None
        finally:
            self._opening.pop(local_id, None)

    def _answer_open(self, local_id: int, remote_id: int | None) -> None:
        # the stream exists from the host's OKAY on: a WRTE right behind it must find it
        service, answer = self._opening.pop(local_id)
        stream = None
        if remote_id is not None:
            stream = AdbStream(self, local_id, remote_id, service)
            self.streams[local_id] = stream
        if not answer.done():
            answer.set_result(stream)
        elif stream is not None:
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
        for _service, answer in self._opening.values():
            if not answer.done():
                answer.set_result(None)
        for callback in self.on_close:
            with contextlib.suppress(Exception):
                callback()
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
