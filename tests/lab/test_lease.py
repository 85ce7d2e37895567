from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devicelab.errors import LeaseTimeoutError
from devicelab.lab.lease import LocalAllocator
from devicelab.model.inventory import AdbAddress, HandsetEntry


def entry(i: int, sku: str = "00WW") -> HandsetEntry:
    return HandsetEntry(id=f"h{i}", serialno=f"B2N{i}", adb=AdbAddress(serial=f"emulator-{i}"),
                        fastboot=f"tcp:127.0.0.1:{1000 + i}", model="B2N", sku=sku)


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEVICELAB_STATE_DIR", str(tmp_path))
    return tmp_path


def test_each_handset_is_leased_once(state_dir: Path) -> None:
    alloc = LocalAllocator("lab", [entry(1), entry(2)])
    a = alloc.acquire({}, timeout=1)
    b = alloc.acquire({}, timeout=1)
    assert {a.entry.id, b.entry.id} == {"h1", "h2"}
    with pytest.raises(LeaseTimeoutError, match="no matching handset became free"):
        alloc.acquire({}, timeout=0.2)
    a.release()
    c = alloc.acquire({}, timeout=1)
    assert c.entry.id == a.entry.id


def test_selection_by_tags_and_clear_message_when_nothing_matches(state_dir: Path) -> None:
    alloc = LocalAllocator("lab", [entry(1), entry(2, sku="00CN")])
    with alloc.acquire({"sku": "00CN"}, timeout=1) as lease:
        assert lease.entry.id == "h2"
    with pytest.raises(LeaseTimeoutError, match=r"no handset in lab 'lab' matches sku=00ID.*h1 \(B2N 00WW"):
        alloc.acquire({"sku": "00ID"}, timeout=5)


HOLDER = """
import sys, time
from devicelab.model.inventory import AdbAddress, HandsetEntry
from devicelab.lab.lease import LocalAllocator
e = HandsetEntry(id="h1", serialno="B2N1", adb=AdbAddress(serial="emulator-1"), fastboot="tcp:127.0.0.1:1001",
                 model="B2N", sku="00WW")
lease = LocalAllocator("lab", [e]).acquire({}, timeout=5, holder="other-run")
print("held", flush=True)
time.sleep(60)
"""


def test_leases_exclude_other_processes_and_free_on_crash(state_dir: Path) -> None:
    env = {**os.environ, "DEVICELAB_STATE_DIR": str(state_dir)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"held"
        alloc = LocalAllocator("lab", [entry(1)])
        with pytest.raises(LeaseTimeoutError, match=r"held by pid .* other-run"):
            alloc.acquire({}, timeout=0.3)
        proc.kill()  # a crashed worker: the kernel drops its lock
        proc.wait(10)
        start = time.monotonic()
        with alloc.acquire({}, timeout=5) as lease:
            assert lease.entry.id == "h1"
        assert time.monotonic() - start < 5
    finally:
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
