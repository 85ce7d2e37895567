"""The gate run: lease handsets, run each through the gate, judge, and write the reports."""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devicelab.analysis.differential import derive, findings_for, traffic_of, with_derived
from devicelab.capture.config import CANARY_HOST
from devicelab.capture.gateway import privilege
from devicelab.errors import ConfigError, DevicelabError, RunInterruptedError
from devicelab.flows.operator import Operator
from devicelab.gate.handset_run import HandsetOutcome, HandsetPlan, choices_for, run_handset
from devicelab.gate.options import GateOptions, clear_run_folder, link_latest, load_builds, run_folder
from devicelab.gate.timeline import Timeline
from devicelab.handset import Handset
from devicelab.lab.lab import HeldHandset, Lab
from devicelab.lab.preflight import refuse_build
from devicelab.model.builds import Build
from devicelab.model.identity import Identity
from devicelab.model.policy import DERIVED_KIND, Policy, policy_for
from devicelab.progress import Reporter
from devicelab.reports import destinations
from devicelab.reports.collect import FindingContext, handset_result
from devicelab.reports.diff import DIFFERENTIAL_NOTE, new_pairs
from devicelab.reports.evidence import EvidenceBundle
from devicelab.reports.model import (
    BuildRef,
    ConsentChoice,
    EarlierBuild,
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
#: seconds a stopped handset may take to finish its step and stop its capture
STOP_GRACE = 30.0
#: windows per handset in a differential run: a value seen in both is stable, not a boot's nonce
DIFFERENTIAL_REPEATS = 2


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
    #: set when the operator stops the run: handsets start no new step, the window ends early
    cancel: threading.Event = field(default_factory=threading.Event)
    interrupted: str = ""  # why and during what, when the operator stopped the run
    out: Path = Path()  # the run folder
    notes: list[str] = field(default_factory=list)  # the run's own (a differential run's summary)

    def __post_init__(self) -> None:
        self.run_id = self.run_id or f"{self.started:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def run_gate(options: GateOptions, reporter: Reporter | None = None) -> Written:
    """Run the gate; bad input raises ConfigError before anything is touched."""
    reporter = reporter or Reporter()
    build, from_build = load_builds(options)
    operator = options.wizard == "operator"
    for gated in (from_build, build):
        if gated is not None:  # a retail build (its adb is off after any wipe): the fix now, not boot timeouts
            refuse_build(gated, walked_by_operator=operator)
    walker = Operator.for_run(options.operator_done, options.operator_timeout) if operator else None
    policy, policy_path = policy_for(build, options.policy)
    baseline = read_run(options.baseline) if options.baseline is not None else None
    run = GateRun(options, build, from_build, policy, policy_path, baseline)
    run.out = run_folder(options, build, run.run_id)  # refused here, before anything is touched
    timeline = run.timeline
    lab = Lab.from_file(options.lab)
    capacity = lab.capacity()
    if capacity is not None and options.handsets > capacity:  # before a lab starts for nothing
        raise ConfigError(lab.source, "handsets", f"{options.handsets} handsets wanted, but lab {lab.name!r} has "
                          f"{capacity}")
    if operator and (options.capture or lab.inventory.proxy.mode) != "gateway":
        raise ConfigError(lab.source, "proxy.mode", "--wizard operator needs the gateway capture (--capture gateway): "
                          "nothing else sees a handset whose adb is off")
    if (options.capture or lab.inventory.proxy.mode) == "gateway":
        # before any handset is touched: one clear error, exit 3. Rules on a lab's own interfaces
        # need no namespace of devicelab's
        handsets = lab.inventory.handsets
        on_interfaces = bool(handsets) and all(h.gateway is not None and not h.gateway.netns for h in handsets)
        privilege.require(privilege.INTERFACE if on_interfaces else privilege.NAMESPACES)
    workroot = Path(tempfile.mkdtemp(prefix="devicelab-gate-"))
    try:
        with timeline.step("start lab"), reporter.status(f"starting lab {lab.name}"):
            lab.start()
        # before anything can fail: what the lab knows of every handset redacts every message
        run.lab_identities = [e.known_identity() for e in lab.entries]
        plan = HandsetPlan(build=build, from_build=from_build, policy=policy, sim=options.sim,
                           choices=choices_for(options.consent, options.wifi), window=options.window,
                           proxy=lab.inventory.proxy, upstream=lab.upstream, sinkhole=options.sinkhole,
                           mode=options.capture or lab.inventory.proxy.mode, flash=not options.no_flash,
                           repeats=DIFFERENTIAL_REPEATS if options.differential else 1, operator=walker)
        wanted = {"model": build.bootloader.product}
        with contextlib.ExitStack() as leases:
            with timeline.step(f"lease {options.handsets} handset(s)"), \
                    reporter.status(f"leasing {options.handsets} handset(s) of lab {lab.name}"):
                run.held = leases.enter_context(lab.lease_many(options.handsets, wanted,
                                                               timeout=options.lease_timeout,
                                                               holder=f"gate {run.run_id}"))
            _run_all(run, [h.handset for h in run.held], plan, workroot, reporter)
        if options.differential:
            with timeline.step("differential analysis"):
                _differential(run)
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM through the command's handler
        run.cancel.set()
        # where it stopped: a step of the lab's (main thread) or the step each handset was in
        running = next((s.name for s in timeline.steps if s.status == "failed" and s.message == "interrupted"), "")
        running = running or ", ".join(sorted({f"{o.handset.entry.id}: {o.error_step}" for o in run.outcomes
                                               if isinstance(o.error, RunInterruptedError)}))
        run.interrupted = f"{str(exc) or 'SIGINT'}: stopped by the operator" + (f" during {running}" if running else "")
        run.errors.append(InfraError(type="RunInterruptedError", step=running, message=run.interrupted))
        log.info("gate: %s", run.interrupted)  # the run record has it; the command prints it once
    except DevicelabError as exc:
        run.errors.append(InfraError.from_exception(exc, step=exc.facts.get("step", "") or "lab"))
        log.info("gate: %s", exc)  # the run record has it; the command prints it once
    finally:
        with contextlib.suppress(DevicelabError):
            lab.stop()
    try:
        return write_run(run)
    finally:
        shutil.rmtree(workroot, ignore_errors=True)


def _run_all(run: GateRun, handsets: list[Handset], plan: HandsetPlan, workroot: Path, reporter: Reporter) -> None:
    """Each handset in its own thread: a rack gates in the time of one handset. Stopped by the
    operator, the threads are told to stop and waited for (bounded), then the interrupt goes on."""
    outcomes: dict[str, HandsetOutcome] = {}
    finished = threading.Semaphore(0)

    def one(handset: Handset) -> None:
        try:
            workdir = workroot / handset.entry.id
            workdir.mkdir(parents=True)
            outcomes[handset.entry.id] = run_handset(handset, plan, workdir, run.timeline, reporter, run.cancel)
        except BaseException as exc:  # whatever ends a handset's thread is recorded for it
            log.exception("[%s] the handset's run raised %s", handset.serial, type(exc).__name__)
            outcomes[handset.entry.id] = HandsetOutcome(handset, error=exc, error_step="handset run",
                                                        error_traceback=traceback.format_exc())
        finally:
            finished.release()

    threads = [threading.Thread(target=one, args=(h,), name=f"gate-{h.entry.id}", daemon=True) for h in handsets]
    for thread in threads:
        thread.start()
    done = 0
    try:
        while done < len(threads):
            # not Thread.join: a KeyboardInterrupt inside join can leave the thread looking finished
            finished.acquire()
            done += 1
    except KeyboardInterrupt:
        run.cancel.set()
        deadline = time.monotonic() + STOP_GRACE
        while done < len(threads) and finished.acquire(timeout=max(0.0, deadline - time.monotonic())):
            done += 1
        raise
    finally:
        for handset in handsets:  # a leased handset never drops out of the record
            outcomes.setdefault(handset.entry.id, HandsetOutcome(
                handset, error=RuntimeError("the handset's run ended without an outcome"), error_step="handset run"))
        run.outcomes = [outcomes[h.entry.id] for h in handsets]


def _differential(run: GateRun) -> None:
    """Compare the handsets' traffic; each handset's report gains its `identity_derived` findings,
    judged by the policy. Fewer than two judged handsets compare nothing, and the run says so."""
    judged = [o for o in run.outcomes if o.report is not None]
    if len(judged) < 2:
        run.notes.append(f"{DIFFERENTIAL_NOTE} {len(judged)} handset(s) judged, nothing to compare")
        return
    traffic = {o.handset.entry.id: traffic_of(o.handset.entry.id, o.report, o.repeat_starts)
               for o in judged if o.report is not None}
    identities = {o.identity.model_dump_json() for o in judged if o.identity is not None}
    if len(identities) < len(judged):
        run.notes.append(f"{DIFFERENTIAL_NOTE} two handsets reported the same identity: nothing can follow it")
    derived = derive(list(traffic.values()))
    for outcome in judged:
        assert outcome.report is not None
        found = findings_for(traffic[outcome.handset.entry.id], derived)
        outcome.report = with_derived(outcome.report, found, run.policy)
    run.notes.append(f"{DIFFERENTIAL_NOTE} {len(judged)} handsets, {DIFFERENTIAL_REPEATS} windows each, "
                     f"{len(derived)} identity-derived field(s)")


def write_run(gate: GateRun) -> Written:
    """Every report of a gate-shaped run (the gate's, or one attempt of `devicelab repro`)."""
    options, build, from_build, outcomes = gate.options, gate.build, gate.from_build, gate.outcomes
    errors = list(gate.errors)
    held = {h.handset.entry.id: h for h in gate.held}
    # what the handsets reported, and what the lab knows of every handset: an error from before a
    # handset was read (a lease that timed out names the lab's handsets) is redacted as well
    identities = [o.identity for o in outcomes if o.identity is not None] + gate.lab_identities
    # a differential run's identity-derived values are as identifying as the identifiers themselves
    derived = [f.identifier for o in outcomes if o.report is not None for f in o.report.findings
               if f.kind == DERIVED_KIND]
    redactor = Redactor(identities, derived)
    if options.out is not None and options.force:
        clear_run_folder(gate.out)
    bundle = EvidenceBundle(gate.out, redactor=redactor if options.evidence == "redacted" else None)
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
        result = handset_result(info, outcome.report, redactor, context,
                                identity_warnings=getattr(handset, "identity_warnings", ()))
        if from_build is not None and outcome.before_update is not None and outcome.update_at is not None:
            earlier = handset_result(info, outcome.before_update, redactor)
            result = result.model_copy(update={"before_update": EarlierBuild(
                build=from_build.name, until=outcome.update_at, outcome=outcome.before_update.verdict.outcome,
                findings=earlier.findings, violations=earlier.violations, flows=earlier.flows)})
        flows = [a.flow for a in outcome.report.analyses]
        table = (destinations.from_connections(outcome.connections, result.findings, gate.policy, flows)
                 if outcome.connections else destinations.from_flows(flows, result.findings, gate.policy))
        # a DNS name may carry an identifier (an exfiltrating label): hosts are scrubbed like everything else
        table = tuple(d.model_copy(update={"host": redactor.scrub(d.host)}) for d in table
                      if d.host != CANARY_HOST)  # the harness's own traffic
        results.append(result.model_copy(update={"destinations": table}))
        consent += [ConsentChoice(name=f"{hid}: {k}", choice="accepted" if v else "declined")
                    for k, v in outcome.consent.items()]
    run = RunRecord(
        run_id=gate.run_id, command=options.command, started=gate.started, finished=datetime.now(UTC),
        build=BuildRef(name=build.name, fingerprint=build.fingerprint),
        from_build=BuildRef(name=from_build.name, fingerprint=from_build.fingerprint) if from_build else None,
        policy=PolicyRef(name=gate.policy.name, path=str(gate.policy_path), sha256=gate.policy.digest),
        handsets=tuple(results),
        consent=tuple(consent), observation_seconds=max((o.observed or 0 for o in outcomes), default=None),
        timeline=tuple(sorted(gate.timeline.steps, key=lambda s: s.start)), infra_errors=tuple(errors),
        notes=(*(f"{o.handset.entry.id}: {note}" for o in outcomes for note in o.notes), *gate.notes),
        interrupted=gate.interrupted,
    )
    if gate.baseline is not None:
        run = _against_baseline(run, gate.baseline, options.baseline)
    written = write_reports(run, gate.out, redactor, evidence=bundle, allure_html=options.allure_html)
    if options.out is None:
        link_latest(gate.out)
    return written


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
    """Per flow with findings, the log lines that name its host or its app, or that hold one of the
    identifiers it sent: a client often logs its payload before it sends it (the zzhc client's
    `RegistrationTask: Params: {..."MEID":...}`), with neither host nor package in the line."""
    lines = outcome.logcat.splitlines()
    found: dict[str, list[str]] = {}
    assert outcome.report is not None
    for analysis in outcome.report.analyses:
        if not analysis.findings:
            continue
        flow = analysis.flow
        needles = {n for n in (flow.host, flow.app) if n}
        needles |= {f.identifier for f in analysis.findings if len(f.identifier) >= 6}
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
