"""The handset's HTTP/HTTPS client: what an app's HttpURLConnection/OkHttp does on the wire.

- Proxy: the global `http_proxy` setting (absolute-form for http, CONNECT for https), unless
  the caller ignores it (a native daemon with its own sockets).
- Names resolve only through the lab's DNS; a proxy is reachable only at a local address.
- Behind the lab's gateway (`kernel`: the handset's own network namespace) names are asked of
  the network's DNS server and connections are kernel sockets in that namespace; no proxy.
- TLS: SNI, host-name check, trust in the system CA store only; a pinning app also requires
  its server's SPKI and refuses anything else inside the handshake.
- Every connection is a row in /proc/net/tcp{,6} with the app's uid and its real local port.

Failures raise NetError carrying the Java exception an app would have logged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from devicelab.virtual.net import http1, pki, websocket
from devicelab.virtual.net.channel import Channel, TlsChannel
from devicelab.virtual.net.dns import LabResolver, NameNotResolved, display_address, is_ip
from devicelab.virtual.net.http1 import Headers, HttpError, Response
from devicelab.virtual.net.kernel import KernelNetwork, NameNotFound
from devicelab.virtual.net.proxyconf import ProxySetting, global_proxy, is_local_address
from devicelab.virtual.net.sockets import SocketTable
from devicelab.virtual.net.trust import TrustStore

CONNECT_TIMEOUT = 10.0  # OkHttp's defaults, host seconds
READ_TIMEOUT = 10.0


class NetError(Exception):
    """A request failed the way it fails on Android; `java` names the exception class."""

    def __init__(self, java: str, message: str) -> None:
        super().__init__(f"{java}: {message}")
        self.java = java
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who opens the connection: a package (or native process) and its uid."""

    name: str
    uid: int
    java: bool = True  # Java sockets are dual-stack (tcp6); a native daemon's are AF_INET (tcp)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: Headers = ()  # sent in this order; Host is put first unless given
    body: bytes = b""


@dataclass(frozen=True)
class Route:
    """Where the bytes went: a proxy, or the lab address of the host."""

    address: tuple[str, int]
    proxy: ProxySetting | None
    local_port: int


class DeviceHttpClient:
    def __init__(
        self, *, caller: Caller, resolver: LabResolver, settings: Callable[[], Mapping[str, str]],
        trust: TrustStore, sockets: SocketTable, online: Callable[[], bool], honour_proxy: bool = True,
        pins: frozenset[str] = frozenset(), timeout: float = READ_TIMEOUT,
        direct: Callable[[int, int], Callable[[], None]] | None = None, kernel: KernelNetwork | None = None,
        sni: str | None = None, host_header: str | None = None, websocket: bool = False,
        device_port: Callable[[int], tuple[str, int] | None] = lambda port: None,
    ) -> None:
        self.caller = caller
        self.resolver = resolver
        self.settings = settings
        self.trust = trust
        self.sockets = sockets
        self.online = online
        self.honour_proxy = honour_proxy
        self.pins = pins
        self.timeout = timeout
        #: told (local port, server port) of a connection straight to a host; returns how to forget it
        self.direct = direct
        #: where a port on the handset's own loopback really listens (an `adb reverse` rule, a forward)
        self.device_port = device_port
        self.last_route: Route | None = None
        #: a hostile client's lies: the TLS server name and Host header it sends instead of the URL's
        #: host (it still connects to the URL's host, and checks only that the chain is trusted)
        self.sni = sni
        self.host_header = host_header
        #: send the body as a WebSocket message after an upgrade, not as a request body
        self.websocket = websocket
        self.kernel = kernel

    async def fetch(self, request: Request) -> Response:
        parts = urlsplit(request.url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise NetError("java.net.MalformedURLException", f"no protocol or host: {request.url}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if not self.online():
            raise NetError("java.net.UnknownHostException",
                           f'Unable to resolve host "{host}": No address associated with hostname')
        if self.kernel is not None:
            proxy = None  # behind the gateway: the lab sets no proxy, the network itself is watched
            address = (await self._kernel_resolve(self.kernel, host), port)
            reader, writer = await self._kernel_connect(self.kernel, address, host)
            seen = address
        else:
            proxy = global_proxy(self.settings()) if self.honour_proxy else None
            address = self._proxy_address(proxy) if proxy is not None else self._resolve(host)
            reader, writer = await self._connect(address, host, port)
            # a direct connection shows the server's public-looking address; one to the proxy, the proxy's
            seen = address if proxy is not None else (display_address(host), port)
        sockname = writer.get_extra_info("sockname")
        connection = self.sockets.opened((sockname[0], sockname[1]), seen, self.caller.uid, java=self.caller.java)
        self.last_route = Route(address, proxy, sockname[1])
        # before the first byte: the server asks whose socket it is when the request arrives
        forget = (self.direct(sockname[1], address[1]) if proxy is None and self.direct is not None
                  and self.kernel is None else _nothing)
        channel: Channel = Channel(reader, writer)
        try:
            if parts.scheme == "https":
                if proxy is not None:
                    await _connect_tunnel(channel, host, port, self.timeout)
                channel = await self._tls(channel, host)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if proxy is not None and parts.scheme == "http":
                target = f"http://{parts.netloc}{target}"  # absolute-form through a proxy
            authority = host if port == (443 if parts.scheme == "https" else 80) else f"{host}:{port}"
            if self.host_header is not None:
                authority = self.host_header
                request = Request(request.method, request.url,
                                  tuple((k, v) for k, v in request.headers if k.lower() != "host"), request.body)
            if self.websocket:
                response = await _websocket(channel, request, target, authority, self.timeout)
            else:
                response = await _exchange(channel, request, target, authority, self.timeout)
        except BaseException:
            channel.close()
            connection.close()
            forget()
            raise
        final = channel

        def close() -> None:
            final.close()
            forget()

        if self.websocket or _says_close(request.headers) or _says_close(response.headers):
            # the app closed its WebSocket, or either side said "Connection: close": not pooled
            close()
            connection.close()
        else:
            self.sockets.keep_alive(connection, close)
        return response

    def _proxy_address(self, proxy: ProxySetting) -> tuple[str, int]:
        if proxy.host == "localhost" or (is_ip(proxy.host) and ipaddress.ip_address(proxy.host).is_loopback):
            # the handset's own loopback: only what listens on the handset answers there, which is
            # what an `adb reverse` rule makes (it leads to the host over USB); else refused, as on a phone
            address = self.device_port(proxy.port)
            if address is None:
                name = "localhost" if proxy.host == "localhost" else ""
                loopback = "127.0.0.1" if proxy.host == "localhost" else proxy.host
                raise NetError("java.net.ConnectException",
                               f"failed to connect to {name}/{loopback} (port {proxy.port}): connect failed: "
                               "ECONNREFUSED (Connection refused)")
            return address
        if not is_local_address(proxy.host):
            # the lab has no route off this machine; a name is asked of the lab DNS only
            if not is_ip(proxy.host):
                try:
                    self.resolver.resolve(proxy.host)
                except NameNotResolved:
                    raise NetError("java.net.UnknownHostException", f'Unable to resolve host "{proxy.host}": '
                                   "No address associated with hostname") from None
            raise NetError("java.net.ConnectException",
                           f"failed to connect to /{proxy.host} (port {proxy.port}): connect failed: "
                           "ENETUNREACH (Network is unreachable)")
        return proxy.host, proxy.port

    def _resolve(self, host: str) -> tuple[str, int]:
        try:
            return self.resolver.resolve(host)
        except NameNotResolved:
            raise NetError("java.net.UnknownHostException",
                           f'Unable to resolve host "{host}": No address associated with hostname') from None

    async def _connect(self, address: tuple[str, int], host: str, port: int) -> tuple[
            asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for drops a connection that completes as it
            # is cancelled (the socket then leaks until garbage collection)
            async with asyncio.timeout(CONNECT_TIMEOUT):
                return await asyncio.open_connection(*address)
        except TimeoutError:
            raise NetError("java.net.SocketTimeoutException",
                           f"failed to connect to {host}/{address[0]} (port {port}) after "
                           f"{int(CONNECT_TIMEOUT * 1000)}ms") from None
        except OSError as exc:
            raise NetError("java.net.ConnectException",
                           f"failed to connect to {host}/{address[0]} (port {address[1]}): connect failed: "
                           f"ECONNREFUSED ({exc.strerror or exc})") from None

    @staticmethod
    async def _kernel_resolve(kernel: KernelNetwork, host: str) -> str:
        if is_ip(host):
            return host
        try:
            return await kernel.resolve(host)
        except NameNotFound:
            raise NetError("java.net.UnknownHostException",
                           f'Unable to resolve host "{host}": No address associated with hostname') from None
        except OSError as exc:
            raise NetError("java.net.UnknownHostException",
                           f'Unable to resolve host "{host}": {exc.strerror or exc}') from None

    @staticmethod
    async def _kernel_connect(kernel: KernelNetwork, address: tuple[str, int], host: str) -> tuple[
            asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            sock = await kernel.connect(address, CONNECT_TIMEOUT)
        except TimeoutError:
            raise NetError("java.net.SocketTimeoutException",
                           f"failed to connect to {host}/{address[0]} (port {address[1]}) after "
                           f"{int(CONNECT_TIMEOUT * 1000)}ms") from None
        except OSError as exc:
            raise NetError("java.net.ConnectException",
                           f"failed to connect to {host}/{address[0]} (port {address[1]}): connect failed: "
                           f"{exc.strerror or exc}") from None
        return await asyncio.open_connection(sock=sock)

    async def _tls(self, channel: Channel, host: str) -> TlsChannel:
        check = self._check_pin(host) if self.pins else None
        context = self.trust.context(check_hostname=self.sni is None)
        try:
            return await TlsChannel.handshake(channel.reader, channel.writer, context, self.sni or host,
                                              self.timeout, check)
        except ssl.SSLCertVerificationError as exc:
            problem = ("java.security.cert.CertPathValidatorException: Trust anchor for certification path "
                       "not found." if exc.verify_code in (19, 20, 21) else exc.verify_message)
            raise NetError("javax.net.ssl.SSLHandshakeException", problem) from None
        except (ssl.SSLError, OSError) as exc:
            raise NetError("javax.net.ssl.SSLHandshakeException", f"Handshake failed: {exc}") from None
        except TimeoutError:
            raise NetError("java.net.SocketTimeoutException", "SSL handshake timed out") from None

    def _check_pin(self, host: str) -> Callable[[bytes], None]:
        def check(leaf_der: bytes) -> None:
            pin = pki.spki_pin_of_der(leaf_der)
            if pin not in self.pins:
                pinned = "\n    ".join(sorted(self.pins))
                raise NetError("javax.net.ssl.SSLPeerUnverifiedException",
                               f"Certificate pinning failure!\n  Peer certificate chain:\n    {pin}\n"
                               f"  Pinned certificates for {host}:\n    {pinned}")

        return check


def _says_close(headers: Headers) -> bool:
    """Whether a message's Connection header says close (the client then pools nothing)."""
    return "close" in (http1.header(headers, "connection") or "").lower()


def _nothing() -> None:
    return None


async def _connect_tunnel(channel: Channel, host: str, port: int, timeout: float) -> None:
    """CONNECT host:port through the proxy, as Android's HTTP stack sends it."""
    await channel.send(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                       "Proxy-Connection: Keep-Alive\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        try:
            data = await channel.recv(timeout)
        except TimeoutError:
            raise NetError("java.net.SocketTimeoutException", "proxy did not answer CONNECT") from None
        if not data or len(head) > 16 * 1024:
            raise NetError("java.io.IOException", "Unexpected end of stream from the proxy")
        head += data
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[1].isdigit() or not 200 <= int(fields[1]) < 300:
        raise NetError("java.io.IOException", f"Unexpected response code for CONNECT: {status_line}")


async def _websocket(channel: Channel, request: Request, target: str, authority: str, timeout: float) -> Response:
    try:
        return await websocket.client_exchange(channel.send, channel.recv, target, authority, request.headers,
                                               request.body, timeout)
    except websocket.WebSocketError as exc:
        raise NetError("java.net.ProtocolException", str(exc)) from None
    except TimeoutError:
        raise NetError("java.net.SocketTimeoutException", "timeout") from None
    except (ConnectionError, ssl.SSLError, h11.ProtocolError) as exc:
        raise NetError("java.net.SocketException", f"Connection reset: {exc}") from None


async def _exchange(channel: Channel, request: Request, target: str, authority: str, timeout: float) -> Response:
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
    headers = list(request.headers)
    if http1.header(request.headers, "host") is None:
        headers.insert(0, ("Host", authority))
    if request.body and http1.header(request.headers, "content-length") is None:
        headers.append(("Content-Length", str(len(request.body))))
    try:  # h11 validates and tracks the exchange; the bytes keep the app's header order (h11 moves Host first)
        conn.send(h11.Request(method=request.method, target=target, headers=headers))
        if request.body:
            conn.send(h11.Data(data=request.body))
        conn.send(h11.EndOfMessage())
    except h11.LocalProtocolError as exc:
        raise NetError("java.lang.IllegalArgumentException", f"bad request: {exc}") from None
    head = f"{request.method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    out = head.encode("latin-1") + request.body
    try:
        await channel.send(out)
        event = await _next(conn, channel, timeout)
        while isinstance(event, h11.InformationalResponse):
            event = await _next(conn, channel, timeout)
        if not isinstance(event, h11.Response):
            raise NetError("java.io.IOException", "unexpected end of stream")
        body = bytearray()
        while True:
            part = await _next(conn, channel, timeout)
            if isinstance(part, h11.Data):
                body += part.data
                if len(body) > http1.MAX_BODY:
                    raise NetError("java.io.IOException", "response body too large")
            elif isinstance(part, h11.EndOfMessage):
                break
            else:
                raise NetError("java.io.IOException", "unexpected end of stream")
    except (HttpError, h11.RemoteProtocolError) as exc:
        raise NetError("java.io.IOException", str(exc)) from None
    except (ConnectionError, ssl.SSLError) as exc:
        raise NetError("java.net.SocketException", f"Connection reset: {exc}") from None
    return Response(event.status_code, event.reason.decode("latin-1"), http1.raw_headers(event), bytes(body))


async def _next(conn: h11.Connection, channel: Channel, timeout: float) -> object:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        try:
            data = await channel.recv(timeout)
        except TimeoutError:
            raise NetError("java.net.SocketTimeoutException", "timeout") from None
        conn.receive_data(data)
