"""First boot to home on a virtual handset, and what the transport fix is worth per UI call:
uiautomator2 through the real adb server with stock adbutils vs the harness's connections
(TCP_NODELAY, no close-sleep, the server version asked once)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
import uiautomator2 as u2

from devicelab.flows import Choices, Consent, first_boot
from devicelab.handset.ui import HandsetUi, timed
from tests.flows.helpers import private_lab

ROUNDS = 25
CALLS: dict[str, Callable[[u2.Device], object]] = {
    "dump_hierarchy": lambda d: d.dump_hierarchy(),
    "info": lambda d: d.info,
    "click(x, y)": lambda d: d.click(5, 5),
}


def measure_ui_latency(rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    """Median ms per UI call, {"stock": {call: ms}, "fixed": {call: ms}}, on one private virtual handset."""
    with private_lab(build="nokia7plus-00WW_3_22C", sim=None, seed="bench-latency") as (_lab, handset):
        results: dict[str, dict[str, float]] = {}
        for label, fast in (("stock", False), ("fixed", True)):
            ui = HandsetUi(handset, fast=fast)
            results[label] = {name: statistics.median(timed(ui, rounds, call)) * 1000 for name, call in CALLS.items()}
            ui.close()
    return results


@pytest.mark.bench
def test_bench_ui_call_latency_stock_vs_fixed() -> None:
    results = measure_ui_latency()
    print(f"\nuiautomator2 through the real adb server, median of {ROUNDS} calls (ms):")
    print(f"  {'call':<16} {'stock':>8} {'fixed':>8} {'ratio':>7}")
    for name in CALLS:
        stock, fixed = results["stock"][name], results["fixed"][name]
        print(f"  {name:<16} {stock:8.2f} {fixed:8.2f} {stock / fixed:6.1f}x")
    overall = statistics.median(results["stock"].values()) / statistics.median(results["fixed"].values())
    print(f"  median over the calls: stock is {overall:.1f}x slower")


@pytest.mark.bench
@pytest.mark.parametrize(("build", "sim"), [("nokia7plus-00WW_3_22C_SP05", "telenor-no"),
                                            ("nokia7plus-00CN_3_340", "china-telecom")])
def test_bench_first_boot_to_home(build: str, sim: str) -> None:
    with private_lab(build=build, sim=sim, seed="bench-first-boot") as (_lab, handset):
        rows = []
        for consent in (Consent.DECLINE_ALL, Consent.ACCEPT_ALL):
            handset.factory_reset()
            start = time.perf_counter()
            result = first_boot(handset, Choices(consent=consent))
            wall = time.perf_counter() - start
            assert result.reached_home
            assert result.mismatches == []
            rows.append((consent.value, wall, result.seconds, len(result.screens), handset.ui().recoveries))
    print(f"\nfirst boot to home on a virtual {build} (60x clock), uiautomator2 over the real adb server:")
    for label, wall, flow, screens, recoveries in rows:
        print(f"  {label:<12} {wall:6.2f} s wall ({flow:5.2f} s in the flow, the rest wake-up and settings checks), "
              f"{screens} screens, {recoveries} server restarts")
