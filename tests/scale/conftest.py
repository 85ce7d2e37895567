"""A labgrid coordinator and one exporter on loopback, private to the test."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.lab.labgrid_allocator import LabgridAllocator, LabgridClient, LabgridError, client_executable
from devicelab.model.inventory import AdbAddress, HandsetEntry
from tests.lab.conftest import free_port

EXPORTER = "lab-host-a"


def handsets() -> list[HandsetEntry]:
    """Four virtual handsets: two with a Telenor SIM, two without."""
    return [HandsetEntry(id=f"virtual-{n}", serialno=f"VIRT{n:04d}", adb=AdbAddress(serial=f"emulator-{5554 + 2 * n}"),
                         fastboot=f"tcp:127.0.0.1:{5600 + n}", model="B2N", sku="00WW", region="eu",
                         sim="telenor-no" if n < 2 else None) for n in range(4)]


def _start(argv: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _until(check: object, what: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            if callable(check) and check():
                return
        except (LabgridError, subprocess.TimeoutExpired):
            pass
        if time.monotonic() > end:
            raise TimeoutError(f"{what} not ready in {timeout:.0f} s")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabgridClient]:
    """A running coordinator and an exporter publishing a NetworkService per handset, with the handsets'
    places published once (each labgrid-client call costs ~0.4 s); a client for it."""
    tmp_path = tmp_path_factory.mktemp("labgrid")
    try:
        client_bin = client_executable()
    except LabgridError as exc:
        pytest.skip(f"labgrid is not installed (pip install devicelab[labgrid]): {exc}")
    bindir = Path(client_bin).parent
    address = f"127.0.0.1:{free_port()}"
    coord = _start([str(bindir / "labgrid-coordinator"), "-l", address], tmp_path, tmp_path / "coordinator.log")
    config = tmp_path / "exporter.yaml"
    config.write_text("".join(f"{e.id}:\n  NetworkService:\n    address: 127.0.0.1\n    username: lab\n"
                              for e in handsets()))
    exporter: subprocess.Popen[bytes] | None = None
    try:
        client = LabgridClient(address, executable=client_bin, call_timeout=15)
        _until(lambda: client.run("places") is not None, "labgrid coordinator")
        exporter = _start([str(bindir / "labgrid-exporter"), "-c", address, "-n", EXPORTER, str(config)], tmp_path,
                          tmp_path / "exporter.log")
        _until(lambda: client.run("resources").count("NetworkService") == len(handsets()), "labgrid exporter")
        LabgridAllocator(address, handsets(), client=client).publish(exporter=EXPORTER)
        yield client
    finally:
        if exporter is not None:
            _stop(exporter)
        _stop(coord)
