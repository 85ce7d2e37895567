"""Running the build x SIM x trigger matrix of a reported leak until it shows."""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devicelab.analysis.findings import Finding
from devicelab.errors import DevicelabError
from devicelab.gate.handset_run import HandsetOutcome, HandsetPlan, choices_for, run_handset
from devicelab.gate.options import GateOptions
from devicelab.gate.run import GateRun, write_run
from devicelab.lab.lab import Lab
from devicelab.model.builds import load_build
from devicelab.model.policy import host_matches, policy_for
from devicelab.progress import Reporter
from devicelab.reports.writer import Written
from devicelab.repro.model import LeakReport

REPRO_FILE = "repro.json"


@dataclass(frozen=True)
class Attempt:
    build: str
    sim: str | None
    trigger: str
    outcome: str  # reproduced | not seen | error: ...
    flows: int = 0
    matches: tuple[Finding, ...] = ()
    contact: str = ""  # the URL of a flow to the suspected host, when no identifier is named
    started: datetime | None = None
    finished: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """For repro.json: the matrix tried, identifiers redacted, each match where it was."""
        return {"build": self.build, "sim": self.sim, "trigger": self.trigger, "outcome": self.outcome,
                "flows": self.flows, "started": self.started.isoformat() if self.started else None,
                "finished": self.finished.isoformat() if self.finished else None,
                "matches": [{"kind": f.kind, "identifier": f.redacted, "host": f.host, "where": f.location,
                             "decoders": list(f.decoders), "app": f.app, "tls": f.tls} for f in self.matches]}


@dataclass
class ReproResult:
    report: LeakReport
    attempts: list[Attempt] = field(default_factory=list)
    written: Written | None = None  # the report folder of the deciding attempt (--out)

    @property
    def reproduced(self) -> Attempt | None:
        return next((a for a in self.attempts if a.outcome == "reproduced"), None)


def reproduce(report: LeakReport, *, lab_path: str | None = None, sinkhole: bool = True,
              reporter: Reporter | None = None, out: Path | None = None,
              command: tuple[str, ...] = ()) -> ReproResult:
    """Try each combination in order, the reported one first; stop at the first reproduction.
    With `out`, the deciding attempt (the reproduction, else the last) gets the gate's report set
    there, and repro.json lists the whole matrix."""
    reporter = reporter or Reporter()
    result = ReproResult(report)
    lab = Lab.from_file(lab_path)
    workroot = Path(tempfile.mkdtemp(prefix="devicelab-repro-"))
    deciding: GateRun | None = None
    try:
        lab.start()
        identities = [e.known_identity() for e in lab.entries]
        for build_name, sim, trigger in itertools.product(report.builds, report.sims, report.triggers):
            attempt, deciding = _attempt(lab, report, build_name, sim, trigger, sinkhole, workroot, reporter)
            result.attempts.append(attempt)
            reporter.line(f"  {build_name} / SIM {sim or 'none'} / {trigger}: {attempt.outcome}")
            if attempt.outcome == "reproduced":
                break
        if out is not None and deciding is not None:
            deciding.out, deciding.lab_identities = out, identities
            deciding.options = replace(deciding.options, out=out, force=True, command=command)
            result.written = write_run(deciding)
            (out / REPRO_FILE).write_text(json.dumps({"report": report.title, "reproduced": result.reproduced
                                                      is not None, "attempts": [a.to_dict() for a in
                                                                                result.attempts]}, indent=2) + "\n")
    finally:
        lab.stop()
        shutil.rmtree(workroot, ignore_errors=True)
    return result


def _attempt(lab: Lab, report: LeakReport, build_name: str, sim: str | None, trigger: str, sinkhole: bool,
             workroot: Path, reporter: Reporter) -> tuple[Attempt, GateRun | None]:
    build = load_build(build_name)
    policy, policy_path = policy_for(build, None)
    plan = HandsetPlan(build=build, from_build=None, policy=policy, sim=sim, choices=choices_for("decline", False),
                       window=report.window, proxy=lab.inventory.proxy, upstream=lab.upstream,
                       sinkhole=(report.suspected.host,) if sinkhole else (),
                       triggers=() if trigger == "boot" else (trigger,))
    workdir = workroot / f"{build_name}-{sim or 'nosim'}-{trigger}"
    workdir.mkdir(parents=True)
    started = datetime.now(UTC)
    run = GateRun(GateOptions(build=build_name, sim=sim, window=report.window, allure_html=False), build, None,
                  policy, policy_path, None, started=started)
    try:
        with lab.lease({"model": report.model}, holder=f"repro {report.title[:40]}") as handset:
            outcome = run_handset(handset, plan, workdir, run.timeline, reporter)
    except DevicelabError as exc:
        return Attempt(build_name, sim, trigger, f"error: {exc}", started=started, finished=datetime.now(UTC)), None
    run.outcomes = [outcome]
    judged = _judge(report, build_name, sim, trigger, outcome)
    return replace(judged, started=started, finished=datetime.now(UTC)), run


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
