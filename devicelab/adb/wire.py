"""Reading and writing the adb server's smart-socket protocol with deadlines.

pure-python-adb's Connection opens the socket and frames requests; its reads are single
`recv` calls that may return short, and its writes may be partial. These helpers loop until the
count is met or the deadline passes.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from ppadb.connection import Connection


class WireError(Exception):
    """The adb server refused a request (FAIL + message) or the socket broke."""


class WireTimeout(WireError):
    """A read or write did not finish before its deadline."""


@dataclass
class Deadline:
    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise WireTimeout("deadline passed")
        return left


def open_connection(host: str, port: int, deadline: Deadline) -> Connection:
    conn = Connection(host, port, timeout=deadline.remaining())
    try:
        conn.connect()
    except RuntimeError as exc:
        raise WireError(f"cannot reach the adb server at {host}:{port}: {exc}") from None
    sock = conn.socket
    assert sock is not None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _sock(conn: Connection) -> socket.socket:
    sock: socket.socket | None = conn.socket
    if sock is None:
        raise WireError("connection is closed")
    return sock


def send_all(conn: Connection, data: bytes, deadline: Deadline) -> None:
    sock = _sock(conn)
    try:
        sock.settimeout(deadline.remaining())
        sock.sendall(data)
    except TimeoutError:
        raise WireTimeout("write timed out") from None
    except OSError as exc:
        raise WireError(f"write failed: {exc}") from None


def read_exact(conn: Connection, count: int, deadline: Deadline) -> bytes:
    sock = _sock(conn)
    buf = bytearray()
    while len(buf) < count:
        try:
            sock.settimeout(deadline.remaining())
            chunk = sock.recv(count - len(buf))
        except TimeoutError:
            raise WireTimeout("read timed out") from None
        except OSError as exc:
            raise WireError(f"read failed: {exc}") from None
        if not chunk:
            raise WireError(f"connection closed after {len(buf)} of {count} bytes")
        buf += chunk
    return bytes(buf)


def read_some(conn: Connection, deadline: Deadline, size: int = 65536) -> bytes:
    """Up to `size` bytes; b'' at end of stream."""
    sock = _sock(conn)
    try:
        sock.settimeout(deadline.remaining())
        return sock.recv(size)
    except TimeoutError:
        raise WireTimeout("read timed out") from None
    except OSError as exc:
        raise WireError(f"read failed: {exc}") from None


def request(conn: Connection, service: str, deadline: Deadline) -> None:
    """Send one smart-socket request and check OKAY; FAIL raises WireError with the message."""
    payload = service.encode()
    send_all(conn, f"{len(payload):04x}".encode() + payload, deadline)
    status = read_exact(conn, 4, deadline)
    if status == b"OKAY":
        return
    if status == b"FAIL":
        raise WireError(read_length_prefixed(conn, deadline).decode(errors="replace"))
    raise WireError(f"unexpected reply {status!r} to {service!r}")


def read_length_prefixed(conn: Connection, deadline: Deadline) -> bytes:
    length = read_exact(conn, 4, deadline)
    try:
        count = int(length, 16)
    except ValueError:
        raise WireError(f"bad length {length!r}") from None
    return read_exact(conn, count, deadline)
