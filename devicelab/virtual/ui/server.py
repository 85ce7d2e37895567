"""The u2 server's HTTP side: a small asyncio HTTP/1.1 server on a loopback port.

`GET /ping` answers `pong`; `POST /jsonrpc/0` runs one JSON-RPC call. Keep-alive, Content-Length
and chunked bodies are handled (what http.client, requests and urllib3 send). Every reply goes
out in one write with TCP_NODELAY set: a split header/body costs a ~40 ms Nagle stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devicelab.virtual.ui import objects as _objects  # noqa: F401 - registers the UiObject methods
from devicelab.virtual.ui.methods import Session
from devicelab.virtual.ui.rpc import dispatch

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
IDLE_SECONDS = 120.0  # a kept-alive connection with no request is closed after this
READ_SECONDS = 30.0  # the rest of a request, once it has started

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
           413: "Payload Too Large", 431: "Request Header Fields Too Large", 505: "HTTP Version Not Supported"}


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """One request, or None when the client closed the connection between requests."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_SECONDS)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise HttpError(400, "truncated request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(431, "request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise HttpError(400, f"bad request line {lines[0][:80]!r}")
    method, path, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(505, f"unsupported {version}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise HttpError(400, f"bad header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(_read_body(reader, headers), READ_SECONDS)
    return Request(method.upper(), path, version, headers, body)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise HttpError(400, "bad chunk size") from None
            if len(body) + size > MAX_BODY:
                raise HttpError(413, "body too large")
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    raw = headers.get("content-length", "0")
    if not raw.isdigit():
        raise HttpError(400, f"bad Content-Length {raw[:20]!r}")
    length = int(raw)
    if length > MAX_BODY:
        raise HttpError(413, "body too large")
    return await reader.readexactly(length) if length else b""


def response(status: int, body: bytes, content_type: str, *, keep_alive: bool, head_only: bool = False) -> bytes:
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode() + (b"" if head_only else body)


class UiServer:
    """One u2 server instance, serving one handset on a loopback port."""

    def __init__(self, handset: VirtualHandset, host: str = "127.0.0.1") -> None:
        self.session = Session(handset)
        self.host = host
        self.port = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.aborting = False

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._client, self.host, 0, limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.host, self.port

    async def close(self, *, abort: bool = False) -> None:
        """Stop listening and drop every connection (reset them when `abort`, as a crash would)."""
        self.aborting = abort
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    request = await read_request(reader)
                except HttpError as exc:
                    writer.write(response(exc.status, f"{exc}\n".encode(), "text/plain", keep_alive=False))
                    await writer.drain()
                    return
                if request is None:
                    return
                writer.write(await self._answer(request))
                await writer.drain()
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            return
        except asyncio.CancelledError:  # close(): asyncio's stream callback must not see a cancelled task
            return
        finally:
            self._tasks.discard(task)
            if self.aborting:
                writer.transport.abort()  # a crashed server resets its connections
            else:
                writer.close()

    async def _answer(self, request: Request) -> bytes:
        self.requests += 1
        keep = request.keep_alive
        path = request.path.split("?", 1)[0]
        if path == "/ping":
            if request.method not in ("GET", "HEAD"):
                return response(405, b"Method Not Allowed\n", "text/plain", keep_alive=keep)
            return response(200, b"pong", "text/plain", keep_alive=keep, head_only=request.method == "HEAD")
        if path == "/jsonrpc/0":
            if request.method != "POST":
                return response(405, b"Method Not Allowed\n", "text/plain", keep_alive=keep)
            body = await dispatch(self.session, request.body)
            return response(200, body, "application/json; charset=UTF-8", keep_alive=keep)
        return response(404, b"Not Found\n", "text/plain", keep_alive=keep)
