"""adbutils, as the harness uses it under uiautomator2: an explicit adb server, no hidden side
effects, and none of the per-call stalls.

Stock adbutils costs ~55 ms per uiautomator2 call on loopback: http.client writes a request's
head and body in two sends on a socket without TCP_NODELAY (a ~40 ms Nagle / delayed-ACK
stall), every stream first asks the server its version on a fresh connection, and every close
sleeps 10 ms. It also runs `adb start-server` on the default port when the server it was given
is down. These subclasses fix that for the connections the harness makes, and only those:
nothing global is patched, other adbutils users keep the stock behaviour.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import adbutils
from adbutils.errors import AdbConnectionError, AdbTimeout

#: seconds a uiautomator2 HTTP request may sit on its socket (a u2 wait of W seconds needs W + 10)
DEFAULT_RPC_TIMEOUT = 120.0


class LabAdbConnection(adbutils.AdbConnection):  # type: ignore[misc]
    """One connection to the adb server: TCP_NODELAY, no close-sleep, never starts a server."""

    def __init__(self, host: str, port: int, connect_timeout: float, nodelay: bool = True) -> None:
        self._address = (host, port)
        self._connect_timeout = connect_timeout
        self._nodelay = nodelay
        super().__init__(host, port)

    def _safe_connect(self) -> socket.socket:
        # stock adbutils runs `adb start-server` (on the default port) here when the server is
        # down; a lab's adb server is managed by the lab, so a dead one is an error
        return self._create_socket()

    def _create_socket(self) -> socket.socket:
        try:
            sock = socket.create_connection(self._address, timeout=self._connect_timeout)
        except TimeoutError:
            raise AdbTimeout(f"connect to adb server {self._address[0]}:{self._address[1]} timed out") from None
        except OSError as exc:
            raise AdbConnectionError(
                f"connect to adb server {self._address[0]}:{self._address[1]} failed: {exc}") from None
        if self._nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        return sock

    def close(self) -> None:
        # adbutils keeps the socket in a name-mangled attribute; closing it without the 10 ms
        # sleep is safe: the adb server reads the stream's end from the FIN either way
        sock: socket.socket | None = getattr(self, "_AdbConnection__conn", None)
        if sock is None:
            return
        self._AdbConnection__conn = None
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        sock.close()


class LabAdbDevice(adbutils.AdbDevice):  # type: ignore[misc]
    """An adbutils device whose `tcp:` streams (u2's HTTP requests) time out instead of hanging."""

    rpc_timeout: float = DEFAULT_RPC_TIMEOUT

    def create_connection(self, network: Any, address: int | str) -> socket.socket:
        sock: socket.socket = super().create_connection(network, address)
        # stock: the 600 s default socket timeout, and http.client's own timeout never reaches
        # a socket that u2 connects itself
        sock.settimeout(self.rpc_timeout)
        return sock


class LabAdbClient(adbutils.AdbClient):  # type: ignore[misc]
    """An adbutils client bound to one adb server (never the environment's or port 5037 by default)."""

    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0,
                 rpc_timeout: float = DEFAULT_RPC_TIMEOUT) -> None:
        super().__init__(host=host, port=port)
        self.connect_timeout = connect_timeout
        self.rpc_timeout = rpc_timeout
        self._server_version: int | None = None

    def make_connection(self, timeout: float | None = None) -> LabAdbConnection:
        conn = LabAdbConnection(self.host, self.port, self.connect_timeout)
        if timeout:
            conn.conn.settimeout(timeout)
        return conn

    def server_version(self) -> int:
        # adbutils asks before every device stream; one adb server keeps its version
        if self._server_version is None:
            self._server_version = int(super().server_version())
        return self._server_version

    def device(self, serial: str | None = None, transport_id: int | None = None) -> LabAdbDevice:
        if not serial:
            raise AdbConnectionError("the harness names handsets by adb serial; none was given")
        device = LabAdbDevice(self, serial=serial)
        device.rpc_timeout = self.rpc_timeout
        return device


def stock_device(host: str, port: int, serial: str) -> Any:
    """An unmodified adbutils device on an explicit server: the baseline the benchmark compares with."""
    try:  # stock adbutils would start a server on the default port if this one were down
        socket.create_connection((host, port), timeout=2.0).close()
    except OSError as exc:
        raise AdbConnectionError(f"no adb server at {host}:{port}: {exc}") from None
    return adbutils.AdbClient(host=host, port=port).device(serial)
