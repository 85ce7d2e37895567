"""Fault injection: the `fault` control op refuses bad input, and each fault, injected into a
real gate run on its own virtual lab, never ends in a pass that the fault made false."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import devicelab.virtual.faults  # noqa: F401  (registers the op)
from devicelab.reports.verdict_json import read_run
from devicelab.virtual.chaos import PLAN, main, run_once, summarise, table
from devicelab.virtual.control import handle_request

WINDOW = 90.0
SLOW = {"boot_hang", "boot_loop"}  # they wait out a boot timeout
#: the default run keeps one fault of each kind (setup, window, clock); `make chaos` and -m slow run all
DEFAULT = {"drop_adb", "reboot", "clock_jump"}


def _request(payload: dict[str, Any]) -> dict[str, Any]:
    lab: Any = SimpleNamespace(handsets=[])
    reply: dict[str, Any] = asyncio.run(handle_request(lab, json.dumps(payload).encode()))
    return reply


@pytest.mark.parametrize(("payload", "says"), [
    ({"serialno": "B2N1", "kind": "meteor"}, "kind"),
    ({"serialno": "B2N1"}, "kind"),
    ({"kind": "reboot"}, "serialno"),
    ({"serialno": "B2N1", "kind": "drop_adb", "seconds": 600}, "seconds"),
    ({"serialno": "B2N1", "kind": "fastboot_drop", "seconds": -1}, "seconds"),
    ({"serialno": "B2N1", "kind": "clock_jump", "seconds": "soon"}, "seconds"),
    ({"serialno": "B2N1", "kind": "boot_loop", "seconds": 3600}, "seconds"),
    ({"serialno": "B2N1", "kind": "reboot"}, "no handset 'B2N1'"),
])
def test_a_bad_fault_request_is_one_clear_error(payload: dict[str, Any], says: str) -> None:
    reply = _request({"op": "fault", **payload})
    assert reply["ok"] is False
    assert says in reply["error"]


def test_the_chaos_cli_refuses_an_unknown_fault(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--faults", "meteor"])
    assert exited.value.code == 2
    assert "unknown fault(s) meteor" in capsys.readouterr().err


def _param(fault: str) -> Any:
    return pytest.param(fault, marks=[] if fault in DEFAULT and fault not in SLOW else [pytest.mark.slow])


@pytest.mark.parametrize("fault", [_param(f) for f in PLAN])
def test_a_fault_in_a_gate_run_never_makes_a_false_pass(fault: str, tmp_path: Path) -> None:
    result = run_once(fault, WINDOW, tmp_path, timeout=150)
    log = (tmp_path / "gate.log").read_text()
    assert "Traceback" not in log, log
    assert result.code is not None, f"{fault}: the gate hung"
    assert result.injected, f"{fault}: not injected ({result.detail})\n{log}"
    verdict = read_run(tmp_path / "out")
    if PLAN[fault].phase == "window":
        assert result.code in (1, 2, 3), log
        assert result.code != 3 or verdict.infra_errors, "an infrastructure exit names its error"
    elif result.code == 0:
        # a setup step recovered: a pass is sound only with the recovery on the record and the whole
        # run observed (the policy in devicelab.virtual.chaos)
        assert result.recovery, f"{fault}: a pass, but the run record does not note the recovery: {verdict.notes}"
        assert not result.coverage, f"{fault}: a pass on an incomplete observation: {result.coverage}"
        assert (verdict.observation_seconds or 0) >= WINDOW, log
    if fault in ("boot_hang", "boot_loop"):
        assert result.code == 3, log  # the boot never completes: an infrastructure error, with its step
        assert any(e.step == "factory reset" for e in verdict.infra_errors), verdict.infra_errors
    assert result.lost == 0, "every request the internet answered through the proxy must be in the evidence and verdict"
    row = summarise(fault, [result])
    assert row.false_passes == 0
    assert row.hangs == 0
    assert fault in table([row])
