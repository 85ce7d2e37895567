"""The pytest run's verdicts and handsets, gathered from workers on the controller."""

from __future__ import annotations

import json
from pathlib import Path

from devicelab.testing.session_report import VERDICTS_FILE, SessionReport, TestVerdict


def worker(handset: str, host: str, outcome: str, *violations: str) -> str:
    report = SessionReport(environment={f"handset.{handset}": f"B2N on {host}"},
                           verdicts=[TestVerdict(f"suites/test_privacy.py::test_{handset}", handset, host, outcome,
                                                 violations)])
    return report.payload()


def test_workers_verdicts_land_in_one_file_with_handset_and_host(tmp_path: Path) -> None:
    controller = SessionReport()
    controller.merge(worker("virtual-0", "host-1", "pass"))
    controller.merge(worker("virtual-3", "host-2", "fail", "zzhc.vnet.cn: imei …3809#a1b2c3 (forbidden-host)"))
    controller.write(tmp_path)
    verdicts = json.loads((tmp_path / VERDICTS_FILE).read_text())
    assert [(v["handset"], v["host"], v["outcome"]) for v in verdicts] == [
        ("virtual-0", "host-1", "pass"), ("virtual-3", "host-2", "fail")]
    assert (tmp_path / "environment.properties").read_text().splitlines() == [
        "handset.virtual-0=B2N on host-1", "handset.virtual-3=B2N on host-2"]
    lines = controller.summary()
    assert lines[0].startswith("FAIL") and "virtual-3 on host-2" in lines[0]  # failures first
    assert "zzhc.vnet.cn: imei" in lines[1]


def test_nothing_judged_writes_no_verdict_file(tmp_path: Path) -> None:
    SessionReport().write(tmp_path)
    assert not (tmp_path / VERDICTS_FILE).exists()
