"""SIGKILL in the middle of a capture loses no completed flow, and not even the request in flight."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from devicelab.capture.evidence import read_evidence
from tests.capture.helpers import Upstream, get_via_proxy

ROOT = Path(__file__).resolve().parents[2]
COMPLETED = 10


def _ready_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"the capture process did not start within {timeout} s")
    return proc.stdout.readline()


def _wait_for(path: Path, needle: bytes, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and needle in path.read_bytes():
            return
        time.sleep(0.02)
    raise AssertionError(f"{needle!r} never reached {path}")


def test_sigkill_keeps_completed_flows_and_the_request_in_flight(tmp_path: Path, http_upstream: Upstream) -> None:
    workdir = tmp_path / "capture"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.capture.crash_target", str(workdir), str(http_upstream.port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        _, host, port = _ready_line(proc, 30).split()
        proxy = (host, int(port))
        for n in range(COMPLETED):
            assert get_via_proxy(proxy, "lab.test", f"/done/{n}", body=b"x" * n)[0] == 200
        in_flight = threading.Thread(target=_quietly, args=(proxy,), daemon=True)
        in_flight.start()
        _wait_for(workdir / "evidence.jsonl", b"/hang/in-flight", 10)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    http_upstream.hang.set()
    read = read_evidence(workdir / "evidence.jsonl")
    done = [f for f in read.flows if f.request.path.startswith("/done/")]
    assert [(f.request.path, f.status, len(f.request.content)) for f in done] == [
        (f"/done/{n}", 200, n) for n in range(COMPLETED)]
    (hung,) = [f for f in read.flows if f.request.path == "/hang/in-flight"]
    assert hung.status is None
    assert "did not stop cleanly" in read.capture.error


def _quietly(proxy: tuple[str, int]) -> None:
    with contextlib.suppress(OSError):  # the proxy dies under it: expected
        get_via_proxy(proxy, "lab.test", "/hang/in-flight", timeout=15)
