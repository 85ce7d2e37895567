"""Real loopback upstreams (HTTP, HTTPS with a throw-away CA) and clients that go through the proxy."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import inspect
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mitmproxy.test import taddons

T = TypeVar("T")


@dataclass(frozen=True)
class ThrowawayPKI:
    """A throw-away CA and a leaf certificate for `hosts`, as files."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_pki(folder: Path, hosts: tuple[str, ...] = ("upstream.lab.test",)) -> ThrowawayPKI:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "devicelab test upstream CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    pki = ThrowawayPKI(folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key")
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return pki


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls
    server: Upstream

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, body))
        if self.path.startswith("/hang"):
            self.server.hang.wait(10)
        reply = f"upstream saw {self.command} {self.path} {len(body)}".encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


class Upstream(ThreadingHTTPServer):
    """A loopback HTTP(S) server that counts every connection it accepts."""

    daemon_threads = True

    def __init__(self, tls: ThrowawayPKI | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.requests: list[tuple[str, str, bytes]] = []
        self.hang = threading.Event()
        self._tls = None
        if tls is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(tls.cert_file, tls.key_file)

    def get_request(self) -> tuple[socket.socket, object]:
        sock, addr = super().get_request()
        self.connections += 1
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_side=True)
        return sock, addr

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client (the proxy) that went away mid-answer is expected in these tests


@contextmanager
def upstream(tls: ThrowawayPKI | None = None) -> Iterator[Upstream]:
    server = Upstream(tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.hang.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def get_via_proxy(proxy: tuple[str, int], url_host: str, path: str, *, port: int = 80, body: bytes | None = None,
                  timeout: float = 10.0) -> tuple[int, bytes]:
    """Plain HTTP through the proxy (absolute-form request line)."""
    conn = http.client.HTTPConnection(*proxy, timeout=timeout)
    try:
        authority = url_host if port == 80 else f"{url_host}:{port}"
        conn.request("POST" if body is not None else "GET", f"http://{authority}{path}", body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def https_via_proxy(proxy: tuple[str, int], host: str, path: str, cafile: Path, *, port: int = 443,
                    body: bytes | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    """HTTPS through the proxy (CONNECT, then TLS with SNI `host`, trusting only `cafile`)."""
    context = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection(*proxy, timeout=timeout, context=context)
    try:
        conn.set_tunnel(host, port)
        conn.request("POST" if body is not None else "GET", path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def in_taddons(*addons: object, body: Callable[[taddons.context], object]) -> None:
    """Run `body` inside mitmproxy's taddons.context, on a loop that is closed afterwards."""

    async def main() -> None:
        with taddons.context(*addons) as tctx:  # type: ignore[no-untyped-call]
            result = body(tctx)
            if inspect.isawaitable(result):
                await result

    asyncio.run(main())


def eventually(check: Callable[[], T | None], timeout: float = 5.0) -> T:
    """Poll `check` until it returns something (hooks run on the proxy's thread, a moment later)."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"nothing after {timeout} s")
        time.sleep(0.02)
