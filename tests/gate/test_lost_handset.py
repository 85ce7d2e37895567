"""No handset is lost: anything raised in one handset's thread of a multi-handset gate is that
handset's error, on the record with its step and traceback, and the run exits 3."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import devicelab.gate.handset_run as handset_run
import devicelab.gate.run as gate_run
from devicelab.gate import GateOptions, run_gate
from devicelab.reports.verdict_json import read_run

BUILD = "nokia7plus-00WW_3_22C_SP05"


def _options(out: Path) -> GateOptions:
    return GateOptions(build=BUILD, sim="telenor-no", out=out, handsets=2, window=30, allure_html=False)


def _first_caller_only(real: Any, exc: BaseException) -> Any:
    """`real`, except that the first handset to call it gets `exc` instead."""
    lock, hit = threading.Lock(), []

    def wrapper(handset: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            first = not hit
            hit.append(handset.entry.id)
        if first:
            raise exc
        return real(handset, *args, **kwargs)

    wrapper.hit = hit  # type: ignore[attr-defined]
    return wrapper


def test_an_unexpected_exception_mid_run_is_that_handsets_error_with_step_and_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crash = _first_caller_only(handset_run.first_boot, KeyError("wizard screen 'frp' not in the flow"))
    monkeypatch.setattr(handset_run, "first_boot", crash)
    written = run_gate(_options(tmp_path / "out"))
    run = read_run(tmp_path / "out")
    assert run.exit_code == 3
    assert len(run.handsets) == 2  # both leased handsets are in the record
    crashed = crash.hit[0]
    (error,) = [e for e in run.infra_errors if e.handset == crashed]
    assert (error.type, error.step) == ("KeyError", "first boot")
    assert "Traceback" in error.traceback
    assert "KeyError" in error.traceback
    assert run.outcome_of(crashed) == "error"
    other = next(r.handset.id for r in run.handsets if r.handset.id != crashed)
    assert not run.errors_of(other)  # the other handset ran to its end
    assert written.run.exit_code == 3


@pytest.mark.slow
def test_an_exception_that_escapes_the_handset_run_itself_is_recorded_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crash = _first_caller_only(gate_run.run_handset, SystemExit(9))  # not even an Exception
    monkeypatch.setattr(gate_run, "run_handset", crash)
    run_gate(_options(tmp_path / "out"))
    run = read_run(tmp_path / "out")
    assert run.exit_code == 3
    assert {r.handset.id for r in run.handsets} >= set(crash.hit)
    (error,) = [e for e in run.infra_errors if e.handset == crash.hit[0]]
    assert (error.type, error.step) == ("SystemExit", "handset run")
    assert "SystemExit" in error.traceback
