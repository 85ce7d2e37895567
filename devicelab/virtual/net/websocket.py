"""WebSocket (RFC 6455) in the virtual lab: a client that upgrades a connection and sends its
payload as one message, as OkHttp's WebSocket does, and the server side of a host, which answers
each message with the host's responder. Framing and masking are wsproto's."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Awaitable, Callable

import h11
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.utilities import generate_accept_token

from devicelab.virtual.net.http1 import Headers, Response, header

MAX_MESSAGE = 1024 * 1024
#: headers of the app's request that belong to a body, not to an upgrade
_BODY_HEADERS = {"host", "content-length", "content-type", "content-encoding", "connection", "upgrade"}

Send = Callable[[bytes], Awaitable[None]]
Recv = Callable[[float], Awaitable[bytes]]


class WebSocketError(Exception):
    """The peer refused the upgrade or broke the framing."""


def is_upgrade(method: str, headers: Headers) -> bool:
    return method == "GET" and (header(headers, "upgrade") or "").lower() == "websocket"


def upgrade_headers(authority: str, app_headers: Headers) -> list[tuple[str, str]]:
    key = base64.b64encode(os.urandom(16)).decode()
    return [("Host", authority), ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"), *((k, v) for k, v in app_headers if k.lower() not in _BODY_HEADERS)]


def accept_headers(request_headers: Headers) -> list[tuple[str, str]]:
    key = header(request_headers, "sec-websocket-key") or ""
    return [("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", generate_accept_token(key.encode()).decode())]


async def client_exchange(send: Send, recv: Recv, target: str, authority: str, app_headers: Headers, payload: bytes,
                          timeout: float) -> Response:
    """Upgrade, send `payload` as one message (text when it is UTF-8), and return the server's first
    message as the response body. Raises WebSocketError, TimeoutError, ConnectionError."""
    conn = h11.Connection(h11.CLIENT)
    await send((conn.send(h11.Request(method="GET", target=target, headers=upgrade_headers(authority, app_headers)))
                or b"") + (conn.send(h11.EndOfMessage()) or b""))
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await asyncio.wait_for(recv(timeout), timeout)
            if not data:
                raise WebSocketError("connection closed during the upgrade")
            conn.receive_data(data)
        elif isinstance(event, h11.InformationalResponse) and event.status_code == 101:
            break
        elif isinstance(event, h11.Response | h11.InformationalResponse):
            raise WebSocketError(f"Expected HTTP 101 response but was '{event.status_code} "
                                 f"{event.reason.decode('latin-1')}'")
        else:
            raise WebSocketError(f"unexpected {type(event).__name__} during the upgrade")
    heads = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items())
    ws = Connection(ConnectionType.CLIENT, trailing_data=conn.trailing_data[0])
    try:
        message: TextMessage | BytesMessage = TextMessage(data=payload.decode("utf-8"))
    except UnicodeDecodeError:
        message = BytesMessage(data=payload)
    await send(ws.send(message))
    reply = await _next_message(ws, send, recv, timeout)
    await send(ws.send(CloseConnection(code=1000)))
    return Response(101, "Switching Protocols", heads, reply if reply is not None else b"")


async def serve(send: Send, recv: Recv, leftover: bytes, answer: Callable[[bytes], bytes], timeout: float) -> None:
    """The server side after the 101: answer every message until the client closes."""
    ws = Connection(ConnectionType.SERVER, trailing_data=leftover)
    while True:
        message = await _next_message(ws, send, recv, timeout)
        if message is None:
            return
        await send(ws.send(BytesMessage(data=answer(message))))


async def _next_message(ws: Connection, send: Send, recv: Recv, timeout: float) -> bytes | None:
    """The next whole message; None when the peer closed."""
    parts = bytearray()
    while True:
        for event in ws.events():
            if isinstance(event, Message):
                data = event.data.encode("utf-8") if isinstance(event.data, str) else bytes(event.data)
                parts += data
                if len(parts) > MAX_MESSAGE:
                    raise WebSocketError(f"message larger than {MAX_MESSAGE} bytes")
                if event.message_finished:
                    return bytes(parts)
            elif isinstance(event, CloseConnection):
                await send(ws.send(event.response()))
                return None
            elif isinstance(event, Ping):
                await send(ws.send(event.response()))
        data = await asyncio.wait_for(recv(timeout), timeout)
        ws.receive_data(data or None)  # None: the peer closed the TCP connection
        if not data:
            return None
