"""Running the build x SIM x trigger matrix of a reported leak until it shows."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devicelab.analysis.findings import Finding
from devicelab.errors import DevicelabError
from devicelab.gate.handset_run import HandsetOutcome, HandsetPlan, choices_for, run_handset
from devicelab.gate.timeline import Timeline
from devicelab.lab.lab import Lab
from devicelab.model.builds import load_build
from devicelab.model.policy import host_matches, policy_for
from devicelab.progress import Reporter
from devicelab.repro.model import LeakReport


@dataclass(frozen=True)
class Attempt:
    build: str
    sim: str | None
    trigger: str
    outcome: str  # reproduced | not seen | error: ...
    flows: int = 0
    matches: tuple[Finding, ...] = ()
    contact: str = ""  # the URL of a flow to the suspected host, when no identifier is named


@dataclass
class ReproResult:
    report: LeakReport
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def reproduced(self) -> Attempt | None:
        return next((a for a in self.attempts if a.outcome == "reproduced"), None)


def reproduce(report: LeakReport, *, lab_path: str | None = None, sinkhole: bool = True,
              reporter: Reporter | None = None) -> ReproResult:
    """Try each combination in order, the reported one first; stop at the first reproduction."""
    reporter = reporter or Reporter()
    result = ReproResult(report)
    lab = Lab.from_file(lab_path)
    workroot = Path(tempfile.mkdtemp(prefix="devicelab-repro-"))
    try:
        lab.start()
        for build_name, sim, trigger in itertools.product(report.builds, report.sims, report.triggers):
            attempt = _attempt(lab, report, build_name, sim, trigger, sinkhole, workroot, reporter)
            result.attempts.append(attempt)
            reporter.line(f"  {build_name} / SIM {sim or 'none'} / {trigger}: {attempt.outcome}")
            if attempt.outcome == "reproduced":
                break
    finally:
        lab.stop()
        shutil.rmtree(workroot, ignore_errors=True)
    return result


def _attempt(lab: Lab, report: LeakReport, build_name: str, sim: str | None, trigger: str, sinkhole: bool,
             workroot: Path, reporter: Reporter) -> Attempt:
    build = load_build(build_name)
    policy, _ = policy_for(build, None)
    plan = HandsetPlan(build=build, from_build=None, policy=policy, sim=sim, choices=choices_for("decline", False),
                       window=report.window, proxy=lab.inventory.proxy, upstream=lab.upstream,
                       sinkhole=(report.suspected.host,) if sinkhole else (),
                       triggers=() if trigger == "boot" else (trigger,))
    workdir = workroot / f"{build_name}-{sim or 'nosim'}-{trigger}"
    workdir.mkdir(parents=True)
    try:
        with lab.lease({"model": report.model}, holder=f"repro {report.title[:40]}") as handset:
            outcome = run_handset(handset, plan, workdir, Timeline(), reporter)
    except DevicelabError as exc:
        return Attempt(build_name, sim, trigger, f"error: {exc}")
    return _judge(report, build_name, sim, trigger, outcome)


def _judge(report: LeakReport, build: str, sim: str | None, trigger: str, outcome: HandsetOutcome) -> Attempt:
    if outcome.report is None:
        why = outcome.error or "nothing was captured"
        return Attempt(build, sim, trigger, f"error: {why}")
    suspect = report.suspected
    flows = [a.flow for a in outcome.report.analyses]
    findings = tuple(f for f in outcome.report.findings if host_matches(suspect.host, f.host)
                     and (not suspect.identifiers or f.kind in suspect.identifiers))
    contact = next((f.request.url for f in flows if host_matches(suspect.host, f.host)), "")
    shown = bool(findings) if suspect.identifiers else bool(contact)
    return Attempt(build, sim, trigger, "reproduced" if shown else "not seen", len(flows), findings, contact)
