"""Writes every report of a run into its output folder, then audits the folder.

The gate (and `devicelab scan --out`) calls `write_reports` once, after the evidence bundle is
complete: verdict.json, junit.xml, allure-results/ (and allure-report/ when the Allure CLI is
installed), report.html. A private key or a raw identifier found in the finished folder
(outside evidence/) raises ReportLeakError: the run must not be published as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devicelab.reports.allure_cli import generate
from devicelab.reports.allure_results import AllureWriter
from devicelab.reports.evidence import EvidenceBundle
from devicelab.reports.html import HTML_FILE, to_html
from devicelab.reports.junit import JUNIT_FILE, to_junit
from devicelab.reports.model import RunRecord
from devicelab.reports.output import ReportFolder, ReportLeakError, audit
from devicelab.reports.redaction import Redactor
from devicelab.reports.verdict_json import VERDICT_FILE, to_json


@dataclass(frozen=True)
class Written:
    """Where each report went, and the run record as written (with the evidence and notes filled in)."""

    run: RunRecord
    verdict: Path
    junit: Path
    html: Path
    allure_results: Path
    allure_report: Path | None


def write_reports(run: RunRecord, out: Path, redactor: Redactor, *, evidence: EvidenceBundle | None = None,
                  allure_html: bool = True, allure_timeout: float = 300.0) -> Written:
    """All reports of `run` under `out`. `evidence` fills run.evidence and writes its manifest."""
    folder = ReportFolder(out, redactor)
    notes = list(run.notes)
    if evidence is not None:
        evidence.write_manifest()
        notes += [f"evidence left out: {why}" for why in evidence.refused]
        run = run.model_copy(update={"evidence": evidence.files})
    results = AllureWriter(run, folder).write()
    report = None
    if allure_html:
        outcome = generate(results, out, timeout=allure_timeout)
        report = outcome.report
        notes.append(outcome.note)
    run = run.model_copy(update={"notes": tuple(notes)})
    written = Written(
        run=run,
        verdict=folder.write_text(VERDICT_FILE, to_json(run)),
        junit=folder.write_text(JUNIT_FILE, to_junit(run)),
        html=folder.write_text(HTML_FILE, to_html(run)),
        allure_results=results,
        allure_report=report,
    )
    problems = audit(out, redactor)
    if problems:
        raise ReportLeakError(f"{out}: the reports must not be published: {'; '.join(problems)}",
                              path=str(out), problems=problems)
    return written
