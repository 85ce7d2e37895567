"""One host of the virtual internet: a loopback listener that answers plain HTTP and HTTPS on
the same port (it peeks at the first byte: 0x16 opens a TLS handshake), so one address per
host serves both `http://` and `https://` URLs, through a proxy or directly."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import replace

import h11

from devicelab.virtual.net import http1, websocket
from devicelab.virtual.net.http1 import HttpError, ReceivedRequest, Reply

log = logging.getLogger(__name__)

Responder = Callable[[ReceivedRequest], Reply]
#: (client address, this server's port) -> the virtual handset whose own socket it is, or ""
OriginOf = Callable[[tuple[str, int], int], str]
#: how long a connection may stay silent (host seconds) before the server drops it
IDLE_TIMEOUT = 600.0
HANDSHAKE_TIMEOUT = 10.0
TLS_RECORD_HANDSHAKE = 0x16


class HostServer:
    """Listens on 127.0.0.1:0 for one host name; `on_request` sees every request it answers."""

    def __init__(
        self,
        host: str,
        responder: Responder,
        tls: ssl.SSLContext,
        on_request: Callable[[ReceivedRequest], None],
        on_tls_failure: Callable[[str, str], None],
        *,
        on_answer: Callable[[ReceivedRequest, int], None] | None = None,
        origin_of: OriginOf | None = None,
        connections: Callable[[], int] | None = None,
    ) -> None:
        self.host = host
        self.responder = responder
        self.tls = tls
        self.on_request = on_request
        self.on_tls_failure = on_tls_failure
        self.on_answer = on_answer  # after the reply was written
        self.origin_of = origin_of
        self._number = connections or itertools.count(1).__next__
        self.port = 0
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: set[asyncio.Task[None]] = set()
        #: accepted, its task not started yet: a task cancelled before its first step has no `finally`
        self._unserved: set[socket.socket] = set()
        self._sni: dict[int, str] = {}
        tls.sni_callback = self._remember_sni

    async def start(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        # accepted in the loop's readiness callback, not by an awaited sock_accept: a task cancelled
        # just after its accept finished drops the new connection, which then leaks
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._accept)
        return self.port

    async def close(self) -> None:
        if self._sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        for conn in self._unserved:
            conn.close()
        self._unserved.clear()

    def _remember_sni(self, obj: ssl.SSLObject | ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext) -> None:
        if name:
            if len(self._sni) > 1000:  # entries of failed handshakes are never collected
                self._sni.clear()
            self._sni[id(obj)] = name

    def _accept(self) -> None:
        if self._sock is None or self._loop is None:
            return
        while True:  # every connection waiting, then back to the loop
            try:
                conn, peer = self._sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # EMFILE and friends: pause instead of spinning on a ready socket
                log.warning("%s: accept failed: %s", self.host, exc)
                self._loop.remove_reader(self._sock.fileno())
                self._loop.call_later(0.1, self._resume, self._sock)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._serve(conn, (peer[0], peer[1])))
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
            self._unserved.add(conn)

    def _resume(self, sock: socket.socket) -> None:
        if self._sock is sock and self._loop is not None:  # not closed meanwhile
            self._loop.add_reader(sock.fileno(), self._accept)

    async def _serve(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        self._unserved.discard(conn)
        writer: asyncio.StreamWriter | None = None
        try:
            first = await _peek(conn, HANDSHAKE_TIMEOUT)
            if not first:
                return
            use_tls = first[0] == TLS_RECORD_HANDSHAKE
            try:
                reader, writer = await _streams(conn, self.tls if use_tls else None)
            except (ssl.SSLError, OSError, TimeoutError) as exc:
                self.on_tls_failure(self.host, f"{type(exc).__name__}: {exc}")
                return
            sni = None
            if use_tls:
                sslobj = writer.get_extra_info("ssl_object")
                sni = self._sni.pop(id(sslobj), None)
            await self._http(reader, writer, use_tls, sni, peer, self._number())
        except (HttpError, ConnectionError, OSError) as exc:
            log.debug("%s: connection from %s ended: %s", self.host, peer, exc)
        except Exception:  # a responder bug must not take the host down
            log.exception("%s: responder failed", self.host)
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 1.0)
            else:
                conn.close()

    async def _http(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: bool, sni: str | None,
        peer: tuple[str, int], number: int,
    ) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        while True:
            event = await http1.next_event(conn, reader, IDLE_TIMEOUT)
            if isinstance(event, h11.ConnectionClosed):
                return
            if not isinstance(event, h11.Request):
                raise HttpError(f"expected a request, got {type(event).__name__}")
            body = await http1.read_body(conn, reader, IDLE_TIMEOUT)
            request = ReceivedRequest(
                host=self.host, method=event.method.decode("ascii", "replace"),
                target=event.target.decode("latin-1"), headers=http1.raw_headers(event), body=body,
                tls=tls, sni=sni, peer=peer, time=time.time(), connection=number,
                # asked now: the handset has said whose socket it is before it sent a byte
                origin=self.origin_of(peer, self.port) if self.origin_of is not None else "",
            )
            self.on_request(request)
            if websocket.is_upgrade(request.method, request.headers):
                await self._websocket(reader, writer, conn, request)
                return
            reply = self.responder(request)
            writer.write(http1.reply_bytes(conn, reply, head_only=request.method == "HEAD"))
            await writer.drain()
            if self.on_answer is not None:
                self.on_answer(request, reply.status)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()


    async def _websocket(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: h11.Connection,
                         upgrade: ReceivedRequest) -> None:
        """Accept the upgrade; each message is a request of its own (method WEBSOCKET) to the responder."""
        writer.write(conn.send(h11.InformationalResponse(status_code=101, headers=websocket.accept_headers(
            upgrade.headers))) or b"")
        await writer.drain()
        if self.on_answer is not None:
            self.on_answer(upgrade, 101)

        def answer(message: bytes) -> bytes:
            request = replace(upgrade, method="WEBSOCKET", body=message, time=time.time())
            self.on_request(request)
            reply = self.responder(request)
            if self.on_answer is not None:
                self.on_answer(request, reply.status)
            return reply.body

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        async def recv(timeout: float) -> bytes:
            return await asyncio.wait_for(reader.read(http1.READ_CHUNK), timeout)

        try:
            await websocket.serve(send, recv, conn.trailing_data[0], answer, IDLE_TIMEOUT)
        except (websocket.WebSocketError, TimeoutError) as exc:
            log.debug("%s: websocket from %s ended: %s", self.host, upgrade.peer, exc)


async def _peek(conn: socket.socket, timeout: float) -> bytes:
    """The first byte of a connection, left in the socket for whoever reads it next."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    fd = conn.fileno()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(ready, timeout)
    except TimeoutError:
        return b""
    finally:
        loop.remove_reader(fd)
    try:
        return conn.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, OSError):
        return b""


async def _streams(
    conn: socket.socket, tls: ssl.SSLContext | None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Streams over an accepted socket, with the server side of TLS when `tls` is given."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=http1.READ_CHUNK, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await loop.connect_accepted_socket(
        lambda: protocol, conn, ssl=tls, ssl_handshake_timeout=HANDSHAKE_TIMEOUT if tls else None,
    )
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)
