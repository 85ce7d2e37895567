"""Helpers for tests that drive the virtual bootloader: a lab on a private adb server, the real
`fastboot` CLI, and a raw fastboot-over-TCP client that can misbehave."""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devicelab.virtual.fastbootd import DEFAULT_MAX_DOWNLOAD_SIZE, FastbootTarget
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import free_port

FASTBOOT = shutil.which("fastboot")
TIMEOUT = 5.0

needs_fastboot = pytest.mark.skipif(FASTBOOT is None, reason="needs Debian's fastboot (make setup installs it)")


@contextlib.contextmanager
def running_lab() -> Iterator[VirtualLab]:
    """One virtual handset on a private adb server, both torn down afterwards."""
    if shutil.which("adb") is None:
        pytest.skip("adb is not installed")
    port = free_port()
    lab = VirtualLab(1, adb_server_port=port, boot_seconds=0.2)
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()
        subprocess.run(["adb", "-P", str(port), "kill-server"], capture_output=True, timeout=15, check=False)


def target(handset: VirtualHandset) -> FastbootTarget:
    fastbootd = handset.fastbootd
    assert isinstance(fastbootd, FastbootTarget)
    return fastbootd


def in_bootloader(lab: VirtualLab) -> VirtualHandset:
    """The lab's handset in the bootloader: unlocked, slot a, the lab's build installed."""
    h = lab.handsets[0]

    def reset() -> None:
        h.storage.unlocked = True
        h.storage.unlock_allowed = True
        h.storage.current_slot = "a"
        h.install(lab.build)
        target(h).max_download_size = DEFAULT_MAX_DOWNLOAD_SIZE
        if h.state != BootState.BOOTLOADER:
            h.reboot("bootloader")

    lab.call(reset)
    lab.call(h.wait_for_state(BootState.BOOTLOADER, TIMEOUT), timeout=TIMEOUT + 1)
    return h


def fastboot(handset: VirtualHandset, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """The real fastboot CLI against the handset's TCP target (it prints everything on stderr)."""
    assert FASTBOOT is not None
    return subprocess.run(
        [FASTBOOT, "-s", f"tcp:127.0.0.1:{target(handset).port}", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def getvar(handset: VirtualHandset, name: str) -> str:
    """The value `fastboot getvar NAME` prints (`NAME: value`); AssertionError when it fails."""
    proc = fastboot(handset, "getvar", name)
    for line in proc.stderr.splitlines():
        if line.startswith(f"{name}: "):
            return line[len(name) + 2 :]
    raise AssertionError(f"getvar {name}: no value in {proc.stderr!r}")


class StateLog:
    """Every boot state a handset enters, recorded as it happens (on the lab's loop)."""

    def __init__(self, lab: VirtualLab, handset: VirtualHandset, monkeypatch: pytest.MonkeyPatch) -> None:
        self.states: list[BootState] = []
        original = handset._set_state

        def record(state: BootState) -> None:
            self.states.append(state)
            original(state)

        lab.call(lambda: monkeypatch.setattr(handset, "_set_state", record))

    def wait_for(self, *sequence: BootState, timeout: float = TIMEOUT) -> None:
        """Wait until the states entered so far contain `sequence` in order."""
        deadline = time.monotonic() + timeout
        while not _contains_in_order(list(self.states), sequence):
            if time.monotonic() > deadline:
                raise AssertionError(f"states {self.states} never went through {list(sequence)}")
            time.sleep(0.01)


def _contains_in_order(seen: list[BootState], wanted: tuple[BootState, ...]) -> bool:
    it: Iterator[Any] = iter(seen)
    return all(any(state == w for state in it) for w in wanted)


class Client:
    """A minimal fastboot TCP client that can also misbehave."""

    def __init__(self, port: int, *, handshake: bytes = b"FB01") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.sendall(handshake)

    def close(self) -> None:
        self.sock.close()

    def hello(self) -> bytes:
        return self._exactly(4)

    def frame(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">Q", len(payload)) + payload)

    def reply(self) -> bytes:
        (length,) = struct.unpack(">Q", self._exactly(8))
        return self._exactly(length)

    def command(self, text: str) -> bytes:
        self.frame(text.encode())
        return self.reply()

    def closed(self) -> bool:
        """True when the target closed the connection (reads EOF or a reset)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            piece = self.sock.recv(count - len(data))
            if not piece:
                raise ConnectionError(f"closed after {len(data)} of {count} bytes")
            data += piece
        return data
