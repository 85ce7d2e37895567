"""HTTP/1.1 messages as the virtual internet and the virtual handset exchange them (h11 does
the framing; this module adds bounded reads and the lab's plain message types)."""

from __future__ import annotations

import asyncio
import http
from dataclasses import dataclass, field

import h11

#: Bodies above this are refused: a virtual app never sends or receives more.
MAX_BODY = 8 * 1024 * 1024
READ_CHUNK = 64 * 1024

Headers = tuple[tuple[str, str], ...]


class HttpError(Exception):
    """A peer broke HTTP/1.1 framing, sent too much, or went silent."""


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as a responder of the virtual internet received it."""

    host: str  # the responder's host name
    method: str
    target: str
    headers: Headers  # names as sent on the wire
    body: bytes
    tls: bool
    sni: str | None
    peer: tuple[str, int]
    time: float
    connection: int = 0  # numbers the connections of one lab (keep-alive requests share it)
    origin: str = ""  # the virtual handset whose own socket sent it; "" for any other client (a proxy)

    def header(self, name: str) -> str | None:
        return header(self.headers, name)

    @property
    def path(self) -> str:
        """The path without the query (absolute-form targets reduced to their path)."""
        target = self.target
        if "://" in target:
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        return target.partition("?")[0]


@dataclass(frozen=True)
class Reply:
    """What a responder answers."""

    status: int
    headers: Headers = ()
    body: bytes = b""
    reason: str = ""


@dataclass(frozen=True)
class Response:
    """A response as the handset's HTTP client received it."""

    status: int
    reason: str
    headers: Headers
    body: bytes
    extra: dict[str, object] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


def header(headers: Headers, name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers if k.lower() == wanted), None)


def raw_headers(event: h11.Request | h11.Response) -> Headers:
    return tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items())


async def next_event(conn: h11.Connection, reader: asyncio.StreamReader, timeout: float) -> object:
    """The next h11 event, reading as needed; HttpError when the peer is silent for `timeout`."""
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise HttpError(f"bad HTTP from the peer: {exc}") from None
        if event is not h11.NEED_DATA:
            return event
        try:
            data = await asyncio.wait_for(reader.read(READ_CHUNK), timeout)
        except TimeoutError:
            raise HttpError(f"no data for {timeout:g} s") from None
        try:
            conn.receive_data(data)
        except RuntimeError as exc:  # data after a close: the peer is talking nonsense
            raise HttpError(str(exc)) from None


async def read_body(conn: h11.Connection, reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Collect Data events up to EndOfMessage, refusing more than MAX_BODY bytes."""
    body = bytearray()
    while True:
        event = await next_event(conn, reader, timeout)
        if isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                raise HttpError(f"body larger than {MAX_BODY} bytes")
        elif isinstance(event, h11.EndOfMessage):
            return bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            raise HttpError("connection closed mid-body")
        else:
            raise HttpError(f"unexpected {type(event).__name__} in a body")


def reply_bytes(conn: h11.Connection, reply: Reply, *, head_only: bool = False) -> bytes:
    """Serialise a reply; Content-Length is added unless the status has no body."""
    headers = list(reply.headers)
    no_body = reply.status in (204, 304) or 100 <= reply.status < 200
    if not no_body and header(reply.headers, "content-length") is None:
        headers.append(("Content-Length", str(len(reply.body))))
    reason = reply.reason or _phrase(reply.status)
    out = conn.send(h11.Response(status_code=reply.status, headers=headers, reason=reason.encode())) or b""
    if reply.body and not no_body and not head_only:
        out += conn.send(h11.Data(data=reply.body)) or b""
    return out + (conn.send(h11.EndOfMessage()) or b"")


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""
