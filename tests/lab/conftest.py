from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

from devicelab.virtual.lab import VirtualLab


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def private_adb_port() -> Iterator[int]:
    """A port for an adb server of this test alone; the server is killed afterwards."""
    port = free_port()
    yield port
    subprocess.run(["adb", "-P", str(port), "kill-server"], capture_output=True, timeout=15, check=False)


@pytest.fixture
def small_lab(private_adb_port: int) -> Iterator[VirtualLab]:
    """One virtual handset of this test alone, for tests that break it on purpose."""
    with VirtualLab(1, adb_server_port=private_adb_port, boot_seconds=0.2, sim="telenor-no",
                    seed="control-small") as lab:
        lab.wait_booted(10)
        yield lab
