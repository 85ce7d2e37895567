from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from devicelab.reports import allure_cli
from devicelab.reports.allure_cli import find_allure, generate
from devicelab.reports.writer import write_reports
from tests.reports import helpers as h


def test_a_missing_allure_is_a_note_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert find_allure() is None
    outcome = generate(tmp_path / "allure-results", tmp_path)
    assert outcome.report is None
    assert "not installed" in outcome.note


def test_a_broken_allure_is_a_note(tmp_path: Path) -> None:
    fake = tmp_path / "allure"
    fake.write_text("#!/bin/sh\necho 2.46.1\n[ \"$1\" = --version ] && exit 0\necho 'java: not found' >&2\nexit 127\n")
    fake.chmod(0o755)
    outcome = generate(tmp_path / "allure-results", tmp_path, allure=str(fake))
    assert outcome.report is None
    assert "exited 127: java: not found" in outcome.note
    assert "--version` failed" in generate(tmp_path, tmp_path, allure=str(tmp_path / "missing")).note


def test_the_project_local_allure_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "node" / "node_modules" / ".bin" / "allure"
    local.parent.mkdir(parents=True)
    local.write_text("#!/bin/sh\n")
    local.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert find_allure() == str(local)


@pytest.mark.slow
@pytest.mark.skipif(allure_cli.find_allure() is None or shutil.which("java") is None,
                    reason="the Allure command line (npm allure-commandline) or Java is not installed")
def test_allure_generates_its_html_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run, bundle = h.sample_run(out)
    written = write_reports(run, out, h.redactor(), evidence=bundle)
    assert written.allure_report is not None
    assert written.allure_report.stat().st_size > 100_000
    assert any(note.startswith("Allure HTML report: allure-report/index.html") for note in written.run.notes)
    assert os.access(written.allure_report, os.R_OK)
