"""When a pass after a fault is sound: a window fault never; a setup fault only with the recovery
on the run record and the whole run observed. Anything else is a false pass in the chaos table."""

from __future__ import annotations

from typing import Any

import pytest

from devicelab.virtual.chaos import RECOVERY_NOTE, RunResult, coverage_problem, recovery_note, summarise
from devicelab.virtual.ui import faults
from tests.flows.helpers import private_lab

WINDOW = 90.0
RETRY = "virtual-0: first boot: attempt 1 of 2 failed ([B2N1] shell getprop: device offline); retrying"


def _verdict(*, notes: tuple[str, ...] = (RETRY,), gaps: tuple[dict[str, Any], ...] = (), judged: bool = True,
             observed: float = WINDOW, capture_end: str = "2026-01-01T10:00:02Z") -> dict[str, Any]:
    coverage = {"gaps": [{"kind": "tls_undecrypted", "detail": "flow 1", "host": "www.google.com", "counts": False},
                         *gaps]}
    timeline = [
        {"name": "start capture", "handset": "virtual-0", "start": "2026-01-01T10:00:01Z", "end": capture_end,
         "status": "ok"},
        {"name": "first boot", "handset": "virtual-0", "start": "2026-01-01T10:00:03Z",
         "end": "2026-01-01T10:00:09Z", "status": "ok"},
    ]
    return {"notes": list(notes), "observation_seconds": observed, "timeline": timeline,
            "handsets": [{"handset": {"id": "virtual-0"}, "judged": judged, "coverage": coverage}]}


BLIND = {"kind": "unproxied_connection", "detail": "socket table not read from 10:00:04.1 to 10:00:06.3 UTC (2.2 s, "
         "8 failed sample(s)): connections around the proxy in that time were not checked", "host": "",
         "counts": True}


@pytest.mark.parametrize(("verdict", "recorded", "problem"), [
    (_verdict(), True, ""),
    (_verdict(notes=("Allure HTML report: allure-report/index.html",)), False, ""),
    (_verdict(gaps=(BLIND,)), True, "virtual-0: unproxied_connection: socket table not read from 10:00:04.1"),
    (_verdict(judged=False), True, "virtual-0 was not judged"),
    (_verdict(observed=60.0), True, "observed 60 of 90 device seconds"),
    (_verdict(capture_end="2026-01-01T10:00:05Z"), True, "virtual-0: the capture did not cover first boot"),
    ({}, False, "no handset in the verdict"),
])
def test_a_setup_pass_counts_as_recovered_only_when_recorded_and_fully_observed(
        verdict: dict[str, Any], recorded: bool, problem: str) -> None:
    assert bool(recovery_note(verdict)) is recorded
    assert coverage_problem(verdict, WINDOW).startswith(problem)
    assert (problem == "") == (coverage_problem(verdict, WINDOW) == "")
    result = RunResult("drop_adb", 0, True, 5.0, recovery=recovery_note(verdict),
                       coverage=coverage_problem(verdict, WINDOW))
    row = summarise("drop_adb", [result])
    sound = recorded and not problem
    assert (row.recovered, row.false_passes) == ((1, 0) if sound else (0, 1))


def test_a_pass_after_a_window_fault_is_always_false() -> None:
    result = RunResult("wifi_loss", 0, True, 5.0, recovery=RETRY, coverage="")
    row = summarise("wifi_loss", [result])
    assert (row.recovered, row.false_passes) == (0, 1)


def test_a_fault_that_did_not_land_or_an_error_is_no_pass() -> None:
    missed = RunResult("ui_crash", 0, False, 5.0)
    error = RunResult("ui_crash", 3, True, 5.0)
    row = summarise("ui_crash", [missed, error])
    assert (row.missed, row.false_passes, row.recovered, row.exits) == (1, 0, 0, "3")


def test_a_restarted_ui_server_is_a_recovery_the_handset_can_name() -> None:
    """What the gate should add to the run record's notes (handset.recoveries()) reads as a recovery."""
    with private_lab(seed="chaos-recovery") as (lab, handset):
        assert handset.recoveries() == []
        handset.ui().snapshot()
        assert lab.call(lambda: faults.crash_server(lab.handsets[0]))
        handset.ui().snapshot("read the screen after a crash")
        (note,) = handset.recoveries()
        assert RECOVERY_NOTE.search(note), note
