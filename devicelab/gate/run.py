"""The gate run: lease handsets, run each through the gate, judge, and write the reports."""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devicelab.errors import DevicelabError
from devicelab.gate.handset_run import HandsetOutcome, HandsetPlan, choices_for, run_handset
from devicelab.gate.options import GateOptions, load_builds
from devicelab.gate.timeline import Timeline
from devicelab.handset import Handset
from devicelab.lab.lab import HeldHandset, Lab
from devicelab.model.builds import Build
from devicelab.model.identity import Identity
from devicelab.model.policy import Policy, policy_for
from devicelab.progress import Reporter
from devicelab.reports.collect import FindingContext, handset_result
from devicelab.reports.diff import new_pairs
from devicelab.reports.evidence import EvidenceBundle
from devicelab.reports.model import (
    BuildRef,
    ConsentChoice,
    HandsetInfo,
    HandsetResult,
    InfraError,
    PolicyRef,
    RunRecord,
    ViolationRecord,
)
from devicelab.reports.redaction import Redactor
from devicelab.reports.verdict_json import read_run
from devicelab.reports.writer import Written, write_reports

log = logging.getLogger(__name__)


@dataclass
class GateRun:
    """What one gate run was asked, and what it did: everything its reports are written from."""

    options: GateOptions
    build: Build
    from_build: Build | None
    policy: Policy
    policy_path: Path
    baseline: RunRecord | None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    run_id: str = ""
    timeline: Timeline = field(default_factory=Timeline)
    errors: list[InfraError] = field(default_factory=list)
    outcomes: list[HandsetOutcome] = field(default_factory=list)
    held: list[HeldHandset] = field(default_factory=list)
    #: what the lab knows of every handset: an error from before a handset was read is redacted too
    lab_identities: list[Identity] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.run_id = self.run_id or f"{self.started:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def run_gate(options: GateOptions, reporter: Reporter | None = None) -> Written:
    """Run the gate; bad input raises ConfigError before anything is touched."""
    reporter = reporter or Reporter()
    build, from_build = load_builds(options)
    policy, policy_path = policy_for(build, options.policy)
    baseline = read_run(options.baseline) if options.baseline is not None else None
    run = GateRun(options, build, from_build, policy, policy_path, baseline)
    timeline = run.timeline
    lab = Lab.from_file(options.lab)
    workroot = Path(tempfile.mkdtemp(prefix="devicelab-gate-"))
    try:
        with timeline.step("start lab"), reporter.status(f"starting lab {lab.name}"):
            lab.start()
        plan = HandsetPlan(build=build, from_build=from_build, policy=policy, sim=options.sim,
                           choices=choices_for(options.consent, options.wifi), window=options.window,
                           proxy=lab.inventory.proxy, upstream=lab.upstream, sinkhole=options.sinkhole)
        wanted = {"model": build.bootloader.product}
        with contextlib.ExitStack() as leases:
            with timeline.step(f"lease {options.handsets} handset(s)"), \
                    reporter.status(f"leasing {options.handsets} handset(s) of lab {lab.name}"):
                run.held = leases.enter_context(lab.lease_many(options.handsets, wanted,
                                                               timeout=options.lease_timeout,
                                                               holder=f"gate {run.run_id}"))
            run.outcomes = _run_all([h.handset for h in run.held], plan, workroot, timeline, reporter)
    except DevicelabError as exc:
        run.errors.append(InfraError.from_exception(exc, step=exc.facts.get("step", "") or "lab"))
        log.error("gate: %s", exc)
    finally:
        with contextlib.suppress(DevicelabError):
            lab.stop()
    run.lab_identities = [e.known_identity() for e in lab.entries]
    try:
        return _write(run)
    finally:
        shutil.rmtree(workroot, ignore_errors=True)


def _run_all(handsets: list[Handset], plan: HandsetPlan, workroot: Path, timeline: Timeline,
             reporter: Reporter) -> list[HandsetOutcome]:
    """Each handset in its own thread: a rack gates in the time of one handset."""
    outcomes: dict[str, HandsetOutcome] = {}

    def one(handset: Handset) -> None:
        try:
            workdir = workroot / handset.entry.id
            workdir.mkdir(parents=True)
            outcomes[handset.entry.id] = run_handset(handset, plan, workdir, timeline, reporter)
        except BaseException as exc:  # whatever ends a handset's thread is recorded for it
            log.exception("[%s] the handset's run raised %s", handset.serial, type(exc).__name__)
            outcomes[handset.entry.id] = HandsetOutcome(handset, error=exc, error_step="handset run",
                                                        error_traceback=traceback.format_exc())

    threads = [threading.Thread(target=one, args=(h,), name=f"gate-{h.entry.id}") for h in handsets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for handset in handsets:  # a leased handset never drops out of the record
        outcomes.setdefault(handset.entry.id, HandsetOutcome(
            handset, error=RuntimeError("the handset's run ended without an outcome"), error_step="handset run"))
    return [outcomes[h.entry.id] for h in handsets]


def _write(gate: GateRun) -> Written:
    options, build, from_build, outcomes = gate.options, gate.build, gate.from_build, gate.outcomes
    errors = list(gate.errors)
    held = {h.handset.entry.id: h for h in gate.held}
    # what the handsets reported, and what the lab knows of every handset: an error from before a
    # handset was read (a lease that timed out names the lab's handsets) is redacted as well
    identities = [o.identity for o in outcomes if o.identity is not None] + gate.lab_identities
    redactor = Redactor(identities)
    bundle = EvidenceBundle(options.out)
    results: list[HandsetResult] = []
    consent: list[ConsentChoice] = []
    for outcome in outcomes:
        handset = outcome.handset
        hid = handset.entry.id
        lease = held.get(hid)
        info = HandsetInfo(id=hid, model=handset.model, serial=handset.serial, sim=options.sim or handset.entry.sim
                           or "", fingerprint=build.fingerprint, host=handset.entry.usb_host,
                           leased=lease.leased if lease else None, released=lease.released if lease else None)
        shots = {}
        for path, what in outcome.evidence:
            stored = bundle.add(path, handset=hid, description=what)
            if path.suffix == ".png" and stored:
                shots[path] = stored[0]
        if outcome.error is not None:
            errors.append(InfraError.from_exception(outcome.error, handset=hid, step=outcome.error_step,
                                                    traceback=outcome.error_traceback))
        if outcome.report is None:
            results.append(HandsetResult(handset=info, judged=False))
            continue
        context = FindingContext(logcat=_logcat_around(outcome), screenshots=_screens_for(outcome, shots))
        results.append(handset_result(info, outcome.report, redactor, context,
                                      identity_warnings=getattr(handset, "identity_warnings", ())))
        consent += [ConsentChoice(name=f"{hid}: {k}", choice="accepted" if v else "declined")
                    for k, v in outcome.consent.items()]
    run = RunRecord(
        run_id=gate.run_id, command=options.command, started=gate.started, finished=datetime.now(UTC),
        build=BuildRef(name=build.name, fingerprint=build.fingerprint),
        from_build=BuildRef(name=from_build.name, fingerprint=from_build.fingerprint) if from_build else None,
        policy=PolicyRef(name=gate.policy.name, path=str(gate.policy_path)), handsets=tuple(results),
        consent=tuple(consent), observation_seconds=max((o.observed or 0 for o in outcomes), default=None),
        timeline=tuple(sorted(gate.timeline.steps, key=lambda s: s.start)), infra_errors=tuple(errors),
        notes=tuple(f"{o.handset.entry.id}: {note}" for o in outcomes for note in o.retries),
    )
    if gate.baseline is not None:
        run = _against_baseline(run, gate.baseline, options.baseline)
    return write_reports(run, options.out, redactor, evidence=bundle, allure_html=options.allure_html)


def _against_baseline(run: RunRecord, baseline: RunRecord, where: Path | None) -> RunRecord:
    """New (host, identifier kind) pairs fail the gate even where the policy is silent."""
    fresh = new_pairs(baseline, run)
    if not fresh:
        return run
    results = []
    for result in run.handsets:
        extra = tuple(
            ViolationRecord(rule=f"new-pair: {pair.kind} to {pair.host} is new since baseline run "
                                 f"{baseline.run_id} ({where})", host=pair.host, kind=pair.kind)
            for pair in fresh if any(f.host == pair.host and f.kind == pair.kind for f in result.findings)
        )
        results.append(result.model_copy(update={"violations": result.violations + extra}))
    return run.model_copy(update={"handsets": tuple(results)})


def _logcat_around(outcome: HandsetOutcome) -> dict[str, list[str]]:
    """Per flow with findings, the log lines that name its host or its app."""
    lines = outcome.logcat.splitlines()
    found: dict[str, list[str]] = {}
    assert outcome.report is not None
    for analysis in outcome.report.analyses:
        if not analysis.findings:
            continue
        flow = analysis.flow
        needles = [n for n in (flow.host, flow.app) if n]
        found[flow.id] = [line for line in lines if any(n in line for n in needles)][-40:]
    return found


def _screens_for(outcome: HandsetOutcome, stored: dict[Path, str]) -> dict[str, str]:
    """Per flow with findings, the screenshot taken next after it."""
    assert outcome.report is not None
    shots = sorted((when, stored[path]) for when, path in outcome.screenshots if path in stored)
    result = {}
    for analysis in outcome.report.analyses:
        flow = analysis.flow
        if analysis.findings and shots:
            after = [s for when, s in shots if flow.timestamp is None or when >= flow.timestamp]
            result[flow.id] = after[0] if after else shots[-1][1]
    return result
