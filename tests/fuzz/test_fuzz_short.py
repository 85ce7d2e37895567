"""Short coverage-guided fuzz runs (atheris) as part of `make test`; `make fuzz` runs them long."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("fuzz_inputs.py")


@pytest.mark.parametrize("target", ["body", "quiet", "capture"])
def test_short_fuzz_run_finds_no_crash(target: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(HARNESS), target, "-runs=50000", "-max_total_time=5",
                           f"-artifact_prefix={tmp_path}/", "-rss_limit_mb=2048"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done" in proc.stderr
    assert not list(tmp_path.glob("crash-*")), "atheris saved a crashing input"
