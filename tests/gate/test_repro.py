"""`devicelab repro` on the 2019 report shipped in fixtures/repro/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "fixtures" / "repro" / "nokia7plus-2019-nrk.yaml"


def repro(report: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "devicelab", "repro", str(report)], capture_output=True, text=True,
                          timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


def test_the_2019_report_reproduces_on_the_leaky_build() -> None:
    code, output = repro(REPORT)
    assert code == 0, output
    assert "reproduced on nokia7plus-00WW_3_22C" in output
    assert "POST http://zzhc.vnet.cn/ (plain HTTP)" in output
    assert "com.qualcomm.qti.autoregistration" in output
    assert "sinkhole on" in output


def test_the_fixed_build_does_not_reproduce_and_says_what_was_covered(tmp_path: Path) -> None:
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(REPORT.read_text().replace("builds: [nokia7plus-00WW_3_22C]",
                                                "builds: [nokia7plus-00WW_3_22C_SP05]").replace("window: 300",
                                                                                                "window: 120"))
    code, output = repro(fixed)
    assert code == 1, output
    assert "not reproduced" in output
    for trigger in ("boot", "unlock", "reboot", "sim_change"):
        assert trigger in output


def test_a_report_naming_an_unknown_build_is_one_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(REPORT.read_text().replace("builds: [nokia7plus-00WW_3_22C]", "builds: [nokia9-nope]"))
    code, output = repro(bad)
    assert code == 3
    assert f"{bad}: builds.0: unknown build 'nokia9-nope'" in output
