"""Gateway capture throughput against regular mode, and the packet record's rate.

The same capture (recorder, canary, lab routing) serves both, interleaved round by round: regular
mode gets the load process's requests as a proxy; gateway mode gets them from a process in the
handset's namespace, through the nftables redirect, the relay and the packet record. Printed as
flows/s and packets/s; not a timed assertion. Needs CAP_NET_ADMIN.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from devicelab.capture import Capture, CaptureConfig
from devicelab.capture.gateway import privilege
from devicelab.capture.gateway.gateway import Gateway
from tests.bench.test_bench_proxy import ROOT, ROUNDS, SECONDS, LoadProcess

PUBLIC = "198.18.0.80"


@dataclass(frozen=True)
class GatewayBench:
    regular: list[float]  # flows/s per round
    gateway: list[float]
    packets_per_second: float


def measure_gateway(workdir: Path) -> GatewayBench:
    regular_load = LoadProcess()
    port = regular_load.upstream_port
    capture = Capture(workdir / "capture", CaptureConfig(upstream_hosts={"lab.test": ("127.0.0.1", port)},
                                                         upstream_only=True)).start()
    gateway = Gateway(workdir / "gateway", ["bench"], upstream={"lab.test": PUBLIC}.get, proxy=capture.address)
    regular: list[float] = []
    through: list[float] = []
    try:
        gateway.start()
        assert gateway.topology is not None
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "tests.bench.gateway_load",
                                 gateway.topology.handsets["bench"].namespace], cwd=ROOT, env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None
        assert proc.stdout is not None
        started = time.monotonic()
        gateway_seconds = 0.0
        try:
            for _ in range(ROUNDS):
                regular.append(regular_load.run(capture.address))
                begin = time.monotonic()
                proc.stdin.write(f"{PUBLIC} lab.test:{port} {SECONDS}\n")
                proc.stdin.flush()
                through.append(int(proc.stdout.readline()) / SECONDS)
                gateway_seconds += time.monotonic() - begin
        finally:
            proc.stdin.close()
            proc.wait(30)
            proc.stdout.close()
        assert time.monotonic() - started > 0
        frames = gateway.frames("bench")
    finally:
        gateway.stop()
        capture.stop()
        regular_load.close()
    return GatewayBench(regular, through, frames / gateway_seconds)


@pytest.mark.bench
@pytest.mark.skipif(bool(privilege.missing()), reason="the gateway needs CAP_NET_ADMIN")
def test_gateway_throughput(tmp_path: Path) -> None:
    result = measure_gateway(tmp_path)
    print(f"\nregular {statistics.median(result.regular):.0f} flows/s, gateway "
          f"{statistics.median(result.gateway):.0f} flows/s, {result.packets_per_second:.0f} packets/s recorded")
    assert statistics.median(result.gateway) > 0
