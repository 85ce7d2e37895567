"""Helpers for tests that drive virtual handsets with the real adb CLI or raw adb packets."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable

from devicelab.adb import keys
from devicelab.adb.keys import server_env

ADB = shutil.which("adb") or "adb"

A_CNXN, A_OPEN, A_OKAY, A_WRTE, A_CLSE = 0x4E584E43, 0x4E45504F, 0x59414B4F, 0x45545257, 0x45534C43
A_AUTH = 0x48545541


def free_port() -> int:
    """A free loopback port outside adb's emulator scan range (5555-5585)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if not 5555 <= port <= 5586:
            return port


def run_adb(
    port: int, *args: str, timeout: float = 20.0, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real adb CLI against the server on `port`."""
    return subprocess.run(
        [ADB, "-P", str(port), *args],
        input=stdin.decode() if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout, check=False,
        env=server_env(),  # a server this starts offers the lab's key, as devicelab's own do
    )


def listed(port: int) -> dict[str, str]:
    """`adb devices` as {serial: state}."""
    proc = run_adb(port, "devices")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()[1:]
    return dict(line.split("\t", 1) for line in lines if "\t" in line)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` every 20 ms; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def smart_socket(port: int, *requests: str, timeout: float = 5.0) -> socket.socket:
    """A connection to the adb server with each request sent and OKAYed (e.g. host:transport:S, sync:)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    for text in requests:
        sock.sendall(f"{len(text):04x}{text}".encode())
        status = recv_exactly(sock, 4)
        if status != b"OKAY":
            length = int(recv_exactly(sock, 4), 16)
            message = recv_exactly(sock, length).decode(errors="replace")
            sock.close()
            raise ConnectionRefusedError(f"{text}: {status.decode(errors='replace')} {message}")
    return sock


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {count} bytes")
        data += chunk
    return data


class RawHost:
    """A minimal adb host speaking raw transport packets straight to an adbd port."""

    def __init__(self, port: int, *, max_payload: int = 0x100000, data_check: int | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=3)
        self.send(A_CNXN, 0x01000001, max_payload, b"host::features=shell_v2\0", data_check=data_check)
        reply = self.read()
        if reply[0] == A_AUTH:  # a secure adbd: sign its token with the lab's key, as adb would
            signature = keys.sign(keys.load_private_key(keys.lab_key_path()), reply[3])
            self.send(A_AUTH, 2, 0, signature, data_check=data_check)
            reply = self.read()
        assert reply[0] == A_CNXN, f"expected CNXN, got {reply[0]:08x} {reply[1:]}"
        self.banner = reply[3]

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"", *, data_check: int | None = None) -> None:
        check = sum(data) & 0xFFFFFFFF if data_check is None else data_check
        header = struct.pack("<6I", command, arg0, arg1, len(data), check, command ^ 0xFFFFFFFF)
        self.sock.sendall(header + data)

    def read(self, timeout: float = 3.0) -> tuple[int, int, int, bytes]:
        self.sock.settimeout(timeout)
        command, arg0, arg1, length, _check, magic = struct.unpack("<6I", recv_exactly(self.sock, 24))
        assert magic == command ^ 0xFFFFFFFF
        return command, arg0, arg1, recv_exactly(self.sock, length) if length else b""

    def expect(self, command: int, timeout: float = 3.0) -> tuple[int, int, int, bytes]:
        packet = self.read(timeout)
        assert packet[0] == command, f"expected {command:08x}, got {packet[0]:08x} {packet[1:]}"
        return packet

    def open(self, local_id: int, service: str) -> tuple[int, int, int, bytes]:
        """OPEN a service; returns the device's answer (OKAY or CLSE)."""
        self.send(A_OPEN, local_id, 0, service.encode() + b"\0")
        return self.read()

    def close(self) -> None:
        self.sock.close()
