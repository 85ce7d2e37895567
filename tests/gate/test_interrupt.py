"""Stopping a gate (Ctrl-C, or a CI job cancelled with SIGTERM) is not a verdict: it ends within
seconds with exit 130, a verdict.json that says it was interrupted and where, and no evidence
left behind in the temp folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devicelab.lab.lease import lease_dir

STATE = lease_dir("virtual").parent.parent


@pytest.mark.parametrize(("sig", "when"), [(signal.SIGINT, "observing"),
                                           pytest.param(signal.SIGTERM, "first boot", marks=pytest.mark.slow)])
def test_a_stopped_gate_says_so_and_cleans_up(tmp_path: Path, sig: signal.Signals, when: str) -> None:
    out, temp = tmp_path / "out", tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "devicelab", "gate", "--build", "nokia7plus-00WW_3_22C_SP05",
                             "--sim", "telenor-no", "--window", "7200", "--out", str(out), "--no-allure-html"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            # the temp folder is the test's; the lab stays the run's (short socket paths too)
                            env={**os.environ, "TMPDIR": str(temp), "DEVICELAB_STATE_DIR": str(STATE)})
    assert proc.stdout is not None
    output = []
    for line in proc.stdout:  # bounded by the gate's own timeouts; the pytest timeout backs it up
        output.append(line)
        if when in line:
            break
    proc.send_signal(sig)
    stopped = time.monotonic()
    try:
        rest, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # the command prints every thread's stack: where it is stuck
        time.sleep(2)
        proc.kill()
        rest, _ = proc.communicate(timeout=10)
        pytest.fail(f"the gate did not stop within 60 s of {sig.name}:\n{''.join(output)}{rest}")
    seconds = time.monotonic() - stopped
    text = "".join(output) + rest
    assert proc.returncode == 130, text
    assert seconds < 30, f"took {seconds:.0f} s to stop\n{text}"
    assert "interrupted" in text
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["exit_code"] == 130
    assert verdict["interrupted"].startswith(f"{sig.name}: stopped by the operator")
    errors = verdict["infra_errors"]
    assert any(e["type"] == "RunInterruptedError" and e["handset"] for e in errors), errors
    assert list(temp.glob("devicelab-gate-*")) == [], "evidence left in the temp folder"
