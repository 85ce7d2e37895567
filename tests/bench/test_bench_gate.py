"""Gate wall time on 1, 2 and 4 virtual handsets in one run: how the gate scales on this host."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from devicelab.gate import GateOptions, run_gate
from devicelab.progress import Reporter

BUILD = "nokia7plus-00WW_3_22C_SP05"
SIZES = (1, 2, 4)


def measure_gate(workdir: Path, sizes: tuple[int, ...] = SIZES) -> dict[int, float]:
    """Wall seconds of one full gate run per handset count (120 device seconds watched, 60x clock).

    A first one-handset run warms the caches (factory images, imports) and is not counted.
    """
    seconds: dict[int, float] = {}
    for count in (1, *sizes):
        quiet = Reporter(Console(file=io.StringIO()), interactive=False)
        start = time.perf_counter()
        # the non-interactive reporter prints progress to sys.stderr, from the handset threads too
        with contextlib.redirect_stderr(io.StringIO()):
            written = run_gate(GateOptions(build=BUILD, handsets=count, window=120, sim="telenor-no",
                                           out=workdir / f"gate-{count}-{len(seconds)}"), quiet)
        seconds[count] = time.perf_counter() - start
        # a run that failed fast would make any scaling look good: only full runs count, each handset
        # through its window. The fixed build ends inconclusive in the regular capture (its XTRA
        # daemon goes around the proxy), having done every step
        run = written.run
        observed = [s for s in run.timeline if s.name.startswith("observe") and s.status == "ok"]
        if run.outcome not in ("pass", "inconclusive") or run.infra_errors or len(observed) != count:
            raise AssertionError(f"gate on {count} handset(s) ended {run.outcome} after {len(observed)} "
                                 f"window(s): {written.verdict}")
    return seconds


@pytest.mark.bench
def test_bench_gate_scaling(tmp_path: Path) -> None:
    seconds = measure_gate(tmp_path)
    print("\ngate wall time on virtual handsets (one run):")
    for count, wall in seconds.items():
        print(f"  {count} handset(s) {wall:6.2f} s   x{wall / seconds[1]:.2f} of one")
    assert set(seconds) == set(SIZES)
