"""`devicelab repro` on the 2019 report shipped in fixtures/repro/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devicelab.reports.verdict_json import read_run

REPORT = Path(__file__).resolve().parents[2] / "fixtures" / "repro" / "nokia7plus-2019-nrk.yaml"


def repro(report: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "devicelab", "repro", str(report), *args], capture_output=True,
                          text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


def test_the_2019_report_reproduces_on_the_leaky_build_and_writes_its_evidence(tmp_path: Path) -> None:
    out = tmp_path / "repro"
    code, output = repro(REPORT, "--out", str(out))
    assert code == 0, output
    assert "reproduced on nokia7plus-00WW_3_22C" in output
    assert "POST http://zzhc.vnet.cn/ (plain HTTP)" in output
    assert "sinkhole on" in output
    # each identifier where it was (not the first one's field for all of them)
    wheres = {line.split(":", 1)[1].split(" via ")[0].strip() for line in output.splitlines()
              if line.startswith("    ") and " via " in line}
    assert len(wheres) >= 3, output
    # the gate's report set for the reproducing attempt, and the matrix tried
    run = read_run(out)
    assert run.outcome == "fail"
    assert {"report.html", "junit.xml", "verdict.json", "repro.json"} <= {p.name for p in out.iterdir()}
    matrix = json.loads((out / "repro.json").read_text())
    assert matrix["reproduced"] is True
    assert matrix["attempts"][-1]["outcome"] == "reproduced"
    assert matrix["attempts"][-1]["started"]
    assert matrix["attempts"][-1]["matches"]
    assert all(m["identifier"].startswith("…") for m in matrix["attempts"][-1]["matches"])
    # the embedded lab's handsets reach the proxy over `adb reverse` (as phones on USB): the proxy's
    # peer is the adb server, so no match is pinned on an app by its port, rightly or wrongly
    assert {m["app"] for m in matrix["attempts"][-1]["matches"]} == {None}


@pytest.mark.slow
def test_the_fixed_build_does_not_reproduce_and_says_what_was_covered(tmp_path: Path) -> None:
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(REPORT.read_text().replace("builds: [nokia7plus-00WW_3_22C]",
                                                "builds: [nokia7plus-00WW_3_22C_SP05]").replace("window: 300",
                                                                                                "window: 120"))
    code, output = repro(fixed, "--out", str(tmp_path / "out"))
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
