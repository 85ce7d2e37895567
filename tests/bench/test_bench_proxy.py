"""Proxy throughput with the devicelab addons (canary, recorder, lab routing) against bare mitmproxy
(lab routing only).

Both proxies run in this process, interleaved round by round (single runs on these machines swing
by 30-45 %); the clients and the upstream run in a separate load process so they do not share the
proxy's GIL: 8 keep-alive HTTP clients, 288-byte request bodies. Printed as flows/s and the
ratio; not a timed assertion.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devicelab.capture.ca import create_run_ca
from devicelab.capture.canary import Canary
from devicelab.capture.hub import Dispatcher, normalise
from devicelab.capture.recorder import Recorder
from devicelab.capture.records import EvidenceLog
from devicelab.capture.routing import LabRouting
from devicelab.capture.runner import ProxyThread
from tests.bench.proxy_load import BODY, CLIENTS

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 5
SECONDS = 2.0


class LoadProcess:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.bench.proxy_load"], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        self.upstream_port = int(self.proc.stdout.readline().split()[1])

    def run(self, proxy: tuple[str, int]) -> float:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"{proxy[0]} {proxy[1]} {SECONDS}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline()) / SECONDS

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        finally:
            self.proc.kill()
            self.proc.wait(10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def _round(confdir: Path, extra: list[object], load: LoadProcess) -> float:
    """Flows/s through one proxy; with `extra` addons, they run the way a capture runs them: behind
    the hub's dispatcher, which hands each event to the chain of the capture it belongs to."""
    routing = LabRouting({"lab.test": ("127.0.0.1", load.upstream_port)})
    spec = "regular@127.0.0.1:0"
    addons: list[object] = [routing]
    if extra:
        dispatch = Dispatcher()
        dispatch.routes = {normalise(spec): (*extra, routing)}
        addons = [dispatch]
    opts = {"confdir": str(confdir), "mode": [spec], "connection_strategy": "lazy"}
    proxy = ProxyThread(addons, opts, name="bench")
    addrs = proxy.start(15)
    try:
        return load.run(addrs[0])
    finally:
        proxy.stop(10)


def measure_proxy(workdir: Path, rounds: int = ROUNDS) -> tuple[list[float], list[float]]:
    """Flows/s per interleaved round: (bare mitmproxy, with the devicelab addons)."""
    ca = create_run_ca(workdir / "confdir")
    bare: list[float] = []
    recorded: list[float] = []
    load = LoadProcess()
    try:
        for number in range(rounds):
            bare.append(_round(ca.confdir, [], load))
            log = EvidenceLog(workdir / f"evidence-{number}.jsonl")
            log.write_header(ts=time.time())
            recorder = Recorder(log, max_body_bytes=4 * 1024 * 1024, max_stream_bytes=4 * 1024 * 1024)
            recorded.append(_round(ca.confdir, [Canary("canary.devicelab.test"), recorder], load))
            log.close()
            assert recorder.responses > 0
    finally:
        load.close()
    return bare, recorded


@pytest.mark.bench
def test_bench_recorder_against_bare_proxy(tmp_path: Path) -> None:
    bare, recorded = measure_proxy(tmp_path)
    ratios = [r / b for r, b in zip(recorded, bare, strict=True)]
    per_round = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"\nproxy flows/s, {CLIENTS} keep-alive clients, {len(BODY)}-byte bodies, {ROUNDS} interleaved rounds:"
          f"\n  bare mitmproxy     {', '.join(f'{v:.0f}' for v in bare)}"
          f"\n  devicelab addons   {', '.join(f'{v:.0f}' for v in recorded)}"
          f"\n  ratio (median)     {statistics.median(ratios):.2f}  (per round: {per_round})")
