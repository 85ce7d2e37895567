"""Shared fixtures for the virtual lab's tests: a private adb server, and a booted lab on it."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator

import pytest

from devicelab.virtual import shell
from devicelab.virtual.lab import VirtualLab
from devicelab.virtual.shell.io import ShellIO
from tests.virtual.adb_helpers import free_port, listed, run_adb, wait_until


@pytest.fixture
def adb_port() -> Iterator[int]:
    """A private adb server on a free port, killed at teardown."""
    if shutil.which("adb") is None:
        pytest.skip("adb is not installed")
    for _attempt in range(3):
        port = free_port()
        if run_adb(port, "start-server", timeout=30).returncode == 0:
            break
    else:
        pytest.fail("could not start a private adb server")
    try:
        yield port
    finally:
        run_adb(port, "kill-server", timeout=10)


@pytest.fixture
def lab(adb_port: int) -> Iterator[VirtualLab]:
    """One booted virtual handset registered with the private adb server."""
    virtual_lab = VirtualLab(1, adb_server_port=adb_port, boot_seconds=0.2)
    virtual_lab.start()
    try:
        virtual_lab.wait_booted(timeout=10)
        serials = {info.adb_serial for info in virtual_lab.info()}
        wait_until(lambda: all(listed(adb_port).get(s) == "device" for s in serials), 5, "the handset in adb devices")
        yield virtual_lab
    finally:
        virtual_lab.stop()


@pytest.fixture
def serial(lab: VirtualLab) -> str:
    """The adb serial of the lab's first handset."""
    return lab.info()[0].adb_serial


@pytest.fixture
def stand_in_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Commands of a stand-in interpreter (independent of the real shell), recording what they saw."""
    seen: list[str] = []
    real = shell.execute

    async def execute(handset: object, command: str, io: ShellIO, *, root: bool = False) -> int:
        argv = shlex.split(command)
        if argv[:1] == ["t-cat"]:
            await io.stdout(io.stdin)
            return 0
        if argv[:1] == ["t-fail"]:
            await io.stdout(b"to stdout\n")
            await io.stderr(b"to stderr\n")
            return int(argv[1])
        if argv[:1] == ["t-flood"]:
            await io.stdout(b"x" * int(argv[1]))
            return 0
        if argv[:1] == ["t-wait-closed"]:
            seen.append("started")
            await io.closed.wait()
            seen.append("closed")
            return 0
        return await real(handset, command, io, root=root)  # type: ignore[arg-type]

    monkeypatch.setattr(shell, "execute", execute)
    return seen
