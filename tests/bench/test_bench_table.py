"""`make bench`: every benchmark against its baseline, measured in one run, printed as one table.

Each row is devicelab against the thing it wraps or replaces, on the same machine in the same run
(these machines are noisy: compare ratios, not absolute numbers across runs).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from devicelab.capture.gateway import privilege
from tests.bench.test_bench_analysis import measure_analysis
from tests.bench.test_bench_control import measure_overhead
from tests.bench.test_bench_flows import measure_ui_latency
from tests.bench.test_bench_gate import measure_gate
from tests.bench.test_bench_gateway import measure_gateway
from tests.bench.test_bench_proxy import measure_proxy


@dataclass(frozen=True)
class Row:
    measure: str
    baseline: str
    base: float
    ours: float
    unit: str
    better: str  # "lower" or "higher": which way the ratio should go

    @property
    def ratio(self) -> float:
        return self.ours / self.base


def gate_rows(workdir: Path) -> list[Row]:
    seconds = measure_gate(workdir)
    return [Row(f"gate wall time, {n} handsets", "1 handset", seconds[1], seconds[n], "s", "lower")
            for n in sorted(seconds) if n != 1]


def control_rows(port: int) -> list[Row]:
    return [Row(f"{name}", "raw adb/fastboot CLI", raw * 1000, ours * 1000, "ms", "lower")
            for name, raw, ours in measure_overhead(port)]


def analysis_rows() -> list[Row]:
    rows = []
    for corpus, label in (("mixed", "mixed bodies"), ("real", "real captures")):
        r = measure_analysis(corpus=corpus)
        rows.append(Row(f"analysis, {r.megabytes:.0f} MB {label}", "bare hyperscan scan", r.raw_mbs, r.analysis_mbs,
                        "MB/s", "higher"))
    return rows


def proxy_rows(workdir: Path) -> list[Row]:
    bare, ours = measure_proxy(workdir)
    return [Row("proxy with recorder + canary", "bare mitmproxy", statistics.median(bare), statistics.median(ours),
                "flows/s", "higher")]


def gateway_rows(workdir: Path) -> list[Row]:
    if privilege.missing():
        return []  # the table says so below
    r = measure_gateway(workdir)
    regular, gateway = statistics.median(r.regular), statistics.median(r.gateway)
    return [Row("gateway capture (relay + packet record)", "regular mode", regular, gateway, "flows/s", "higher"),
            Row("gateway packets recorded/s (ratio: per flow)", "gateway flows/s", gateway, r.packets_per_second,
                "/s", "higher")]


def ui_rows() -> list[Row]:
    results = measure_ui_latency()
    return [Row(f"UI call {name}", "stock uiautomator2", stock, results["fixed"][name], "ms", "lower")
            for name, stock in results["stock"].items()]


def render(rows: list[Row]) -> str:
    width = max(len(r.measure) for r in rows) + 2
    base_width = max(len(r.baseline) for r in rows) + 2
    lines = [f"{'measure':<{width}}{'against':<{base_width}}{'baseline':>17}{'devicelab':>18}{'ratio':>8}  better",
             "-" * (width + base_width + 57)]
    for r in rows:
        lines.append(f"{r.measure:<{width}}{r.baseline:<{base_width}}{r.base:>9.1f} {r.unit:<8}{r.ours:>9.1f} "
                     f"{r.unit:<8}{r.ratio:>8.2f}  {r.better}")
    return "\n".join(lines)


@pytest.mark.bench
def test_bench_table(tmp_path: Path, private_adb_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [*gate_rows(tmp_path / "gate"), *control_rows(private_adb_port), *analysis_rows(),
            *proxy_rows(tmp_path / "proxy"), *gateway_rows(tmp_path / "gateway"), *ui_rows()]
    assert all(r.base > 0 and r.ours > 0 for r in rows)
    with capsys.disabled():
        print("\n\ndevicelab against its baselines, measured in one run (ratio = devicelab / baseline)")
        print(render(rows), flush=True)
        if privilege.missing():
            print(f"(no gateway rows: the gateway needs {', '.join(privilege.missing())})", flush=True)
