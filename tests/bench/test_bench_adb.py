"""How fast the virtual handset answers the real adb CLI: shell round trip and a 5 MB push."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest

from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import free_port, listed, run_adb, wait_until

ROUNDS = 20


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@pytest.mark.bench
def test_bench_adb_shell_and_push(tmp_path: Path) -> None:
    port = free_port()
    assert run_adb(port, "start-server", timeout=30).returncode == 0
    payload = tmp_path / "five_mb.bin"
    payload.write_bytes(os.urandom(5 * 1024 * 1024))
    try:
        with VirtualLab(1, adb_server_port=port, boot_seconds=0.2) as lab:
            lab.wait_booted(timeout=10)
            serial = lab.info()[0].adb_serial
            wait_until(lambda: listed(port).get(serial) == "device", 5, "the handset in adb devices")

            def timed(*args: str) -> float:
                start = time.perf_counter()
                proc = run_adb(port, "-s", serial, *args)
                elapsed = time.perf_counter() - start
                assert proc.returncode == 0, proc.stdout + proc.stderr
                return elapsed

            version = [timed("version") for _ in range(ROUNDS)]  # the CLI's own start-up cost
            shell = [timed("shell", "echo hi") for _ in range(ROUNDS)]
            shell_v1 = [timed("shell", "-x", "echo hi") for _ in range(ROUNDS)]
            push = [timed("push", str(payload), "/data/local/tmp/five_mb.bin") for _ in range(5)]
            pull = [timed("pull", "/data/local/tmp/five_mb.bin", str(tmp_path / "back.bin")) for _ in range(5)]
    finally:
        run_adb(port, "kill-server", timeout=10)
    print(
        f"\nadb CLI medians: `adb version` {median_ms(version):.1f} ms, `adb shell echo` (v2) "
        f"{median_ms(shell):.1f} ms, `adb shell -x echo` (v1) {median_ms(shell_v1):.1f} ms, "
        f"5 MB push {median_ms(push):.1f} ms, 5 MB pull {median_ms(pull):.1f} ms"
    )
