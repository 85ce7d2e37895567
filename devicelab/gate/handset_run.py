"""One handset through the gate: flash, reset, capture, first boot, activation, observation."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from devicelab.activation.triggers import TRIGGERS, pull
from devicelab.activation.window import Window
from devicelab.analysis.scan import ScanReport
from devicelab.capture.config import CaptureConfig, HostRule
from devicelab.capture.session import HandsetCapture
from devicelab.errors import DevicelabError, RunInterruptedError
from devicelab.flows import Choices, Consent, first_boot
from devicelab.flows.operator import Operator, wizard_instructions
from devicelab.gate.timeline import Timeline
from devicelab.handset import Handset
from devicelab.lab.preflight import Check, locked_check, refuse_handset
from devicelab.lab.retry import with_retries
from devicelab.model.builds import Build
from devicelab.model.identity import Identity
from devicelab.model.inventory import Mode, ProxySpec, UpstreamRouting
from devicelab.model.policy import Policy
from devicelab.progress import Reporter

log = logging.getLogger(__name__)
T = TypeVar("T")

#: attempts for lab steps (flash, reset, first boot); observation and analysis are never repeated
INFRA_ATTEMPTS = 2


@dataclass
class HandsetOutcome:
    """What one handset's run produced; `error` is what ended it early: a lab failure, or anything
    else the run raised (a bug is an error of this handset, with its traceback, never a lost handset)."""

    handset: Handset
    identity: Identity | None = None
    report: ScanReport | None = None
    error: BaseException | None = None
    error_step: str = ""
    error_traceback: str = ""  # for an error that is not a DevicelabError: where it came from
    consent: dict[str, bool] = field(default_factory=dict)
    observed: float | None = None
    evidence: list[tuple[Path, str]] = field(default_factory=list)  # (file, description)
    screenshots: list[tuple[float, Path]] = field(default_factory=list)  # (host time, png)
    logcat: str = ""
    #: for the run record: lab steps that needed a second attempt, recoveries, what a trigger did
    notes: list[str] = field(default_factory=list)
    #: an upgrade run: when (host time) the update to the candidate started, and what the earlier
    #: build sent until then, judged apart from the candidate
    update_at: float | None = None
    before_update: ScanReport | None = None
    #: the gateway's connection table, reconciled (empty without a gateway)
    connections: list[dict[str, Any]] = field(default_factory=list)
    #: host times at which repeats 2, 3, ... of the window began (a differential run's reboots)
    repeat_starts: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class HandsetPlan:
    build: Build
    from_build: Build | None
    policy: Policy
    sim: str | None
    choices: Choices
    window: float
    proxy: ProxySpec
    upstream: UpstreamRouting
    sinkhole: tuple[str, ...]
    #: how the handset reaches the capture (`gateway`: started before the flash, nothing set on the handset)
    mode: Mode = "regular"
    #: activation triggers after first boot, in order (see TRIGGERS); the gate's default covers them all
    triggers: tuple[str, ...] = ("unlock", "reboot", "unlock")
    #: False (--no-flash): the handset must already run the build; it is only factory-reset
    flash: bool = True
    #: windows watched, a reboot before each after the first; the capture runs through them all
    repeats: int = 1
    #: a person walks the wizard (`--wizard operator`): adb is off, the gateway captures, the wait is theirs
    operator: Operator | None = None


def run_handset(handset: Handset, plan: HandsetPlan, workdir: Path, timeline: Timeline,
                reporter: Reporter, cancel: threading.Event | None = None) -> HandsetOutcome:
    cancel = cancel or threading.Event()
    outcome = HandsetOutcome(handset)
    name = handset.entry.id
    current = ""

    def step(label: str) -> contextlib.AbstractContextManager[None]:
        nonlocal current
        if cancel.is_set():  # the operator stopped the run: no new step starts
            raise RunInterruptedError(f"stopped before {label}", serial=handset.serial, step=current or label)
        current = label
        return timeline.step(label, name)

    def retry(what: str, work: Callable[[], T], before: Callable[[], object] | None = None) -> T:
        return with_retries(what, work, attempts=INFRA_ATTEMPTS, label=handset.serial, notes=outcome.notes,
                            before_retry=before)

    capture: HandsetCapture | None = None

    def new_capture() -> HandsetCapture:
        config = CaptureConfig.for_lab(plan.proxy, plan.upstream, label=handset.serial, mode=plan.mode,
                                       sinkhole=HostRule(plan.sinkhole) if plan.sinkhole else None)
        return HandsetCapture(handset, workdir / "capture", config, canary_timeout=plan.proxy.canary_timeout,
                              sample_interval=plan.proxy.sample_interval, shell_timeout=handset.timeouts.shell,
                              defer_canary=True)

    try:
        if plan.mode == "gateway":
            # the gateway needs nothing of the handset: it watches from before the flash, through first boot
            capture = new_capture()
            with step("start gateway capture"), reporter.status(f"{name}: starting the lab gateway"):
                # before the flash nobody can ask the handset: a lab build's file says it trusts the lab CA
                capture.start_network(lab_ca="lab" in plan.build.access.system_cas)
        if plan.operator is not None:
            assert capture is not None, "--wizard operator runs behind the gateway"
            _walked_by_operator(handset, plan, plan.operator, capture, outcome, step, reporter, cancel)
            return outcome  # the capture is stopped and judged below, as for every run
        first = plan.from_build or plan.build
        with step("preflight"):
            # a locked bootloader refuses flash and erase: recovery instead, or say why not and the fix, at once
            checks, locked = _bootloader_checks(handset, plan)
            refuse_handset(checks)
        if plan.flash and locked:
            with step(f"sideload {first.name}"), reporter.status(f"{name}: installing {first.name} through recovery"):
                # no retry: a refused package is refused again, and a debuggable recovery waits in its menu
                handset.install_ota(first)
        elif plan.flash:
            with step(f"flash {first.name}"), reporter.status(f"{name}: flashing {first.name}"):
                retry(f"flash {first.name}", lambda: handset.flash(first))
        else:
            with step("check build"):
                handset.expect_build(first, step="check build (--no-flash)")
        if plan.sim:
            # SIM out for the first boot: activation happens when it goes in, inside the capture window
            with step("take the SIM out"):
                handset.insert_sim(None)
        with step("factory reset"), reporter.status(f"{name}: factory reset"):
            retry("factory reset", handset.recovery_reset if locked else handset.factory_reset)
        capture = capture or new_capture()
        with step("start capture"), reporter.status(f"{name}: starting the capture (proxy, CA)"):
            capture.start()
        if plan.sim:
            with step(f"insert SIM {plan.sim}"), reporter.status(f"{name}: SIM {plan.sim} in, mobile data on"):
                handset.insert_sim(plan.sim)
        with step("read identity"):
            outcome.identity = handset.identity(plan.sim)
        with step("canary"):
            capture.run_canary()
        with step("first boot"), reporter.status(f"{name}: first boot ({plan.choices.describe()})"):
            # a retry resumes where the wizard stands: the engine recognises the screen it is on
            result = retry("first boot", lambda: first_boot(handset, plan.choices, evidence_dir=workdir / "first-boot"),
                           before=lambda: handset.wait_until_steady(step="first boot"))
            outcome.consent = dict(result.consents)
        _screenshot(handset, outcome, workdir, "after-first-boot")
        for trigger in plan.triggers:
            if trigger == "reboot" and plan.from_build is not None:
                trigger = "update"  # an upgrade run's reboot is the one into the new build
                # from here on the traffic is the candidate's: the old build's is reported apart. Marked
                # once the old build is down (in the bootloader) and before the new one boots: nothing
                # the old build sent can count as the candidate's, nor the candidate's as the old one's
                with step("reboot into the bootloader for the update"):
                    handset.reboot_bootloader()
                outcome.update_at = time.time()
            with step(TRIGGERS[trigger]), reporter.status(f"{name}: {TRIGGERS[trigger]}"):
                note = pull(handset, trigger, sim=plan.sim, build=plan.build)
            if note:
                outcome.notes.append(note)
        with step(f"observe {plan.window:.0f} device s"):
            outcome.observed = _observe(handset, plan.window, reporter, name, cancel)
        for repeat in range(2, plan.repeats + 1):
            outcome.repeat_starts.append(time.time())  # what follows is this repeat's traffic
            with step(f"reboot (repeat {repeat})"), reporter.status(f"{name}: reboot for repeat {repeat}"):
                note = pull(handset, "reboot", sim=plan.sim, build=plan.build)
            if note:
                outcome.notes.append(note)
            with step(f"observe {plan.window:.0f} device s (repeat {repeat})"):
                outcome.observed = (outcome.observed or 0.0) + _observe(handset, plan.window, reporter, name, cancel)
        # the handset may have lost its network (or SIM) during the window: prove it still reaches the capture
        with step("canary after the window"):
            capture.run_canary()
        _screenshot(handset, outcome, workdir, "end-of-window")
    except DevicelabError as exc:
        outcome.error, outcome.error_step = exc, current
        log.error("[%s] %s: %s", handset.serial, current, exc)
    except Exception as exc:  # a bug ends this handset's run as an error, on the record
        outcome.error, outcome.error_step, outcome.error_traceback = exc, current, traceback.format_exc()
        log.exception("[%s] %s: unexpected %s", handset.serial, current, type(exc).__name__)
    finally:
        outcome.notes += handset.recoveries()  # a step that went on after a recovery says so
        if capture is not None:
            _finish_capture(capture, outcome, plan, timeline, name)
        _save_logcat(handset, outcome, workdir)
        _restore_sim(handset, plan)
    return outcome


def _walked_by_operator(handset: Handset, plan: HandsetPlan, operator: Operator, capture: HandsetCapture,
                        outcome: HandsetOutcome, step: Callable[[str], contextlib.AbstractContextManager[None]],
                        reporter: Reporter, cancel: threading.Event) -> None:
    """A retail phone: devicelab flashes and wipes it over fastboot (when its bootloader lets it),
    then a person walks the wizard while the gateway records; nothing here asks adb. Identity is the
    lab's (the inventory, the SIM profile); no canary can run, which is a counted gap."""
    name, why = handset.entry.id, "adb is off on a retail build until a person turns it on (--wizard operator)"
    reset = "factory-reset it first (Settings > System > Reset options > Erase all data), then "
    if plan.flash:
        with step("preflight"):  # a locked bootloader refuses the flash: said now, with the fix
            refuse_handset(_bootloader_checks(handset, plan)[0])
        with step(f"flash {plan.build.name} and wipe"), reporter.status(f"{name}: flashing {plan.build.name}"):
            handset.flash_wiped_unattended(plan.build)
        outcome.notes.append(f"{name}: {plan.build.name} flashed with a wipe; its fingerprint was not read back "
                             "(adb off), the bootloader accepted the image for this product")
        reset = ""
    with step("read identity (from the lab)"):
        outcome.identity = handset.identity_from_lab(plan.sim, plan.build.fingerprint, why)
    with step("canary"):
        capture.no_canary(why)
    kind = handset.entry.gateway.kind if handset.entry.gateway is not None else ""
    network = ("join the lab's Wi-Fi (the gateway's access point)" if kind == "hostapd" or plan.choices.wifi
               else "leave Wi-Fi off: the handset is on the gateway's link")
    instructions = wizard_instructions(name, plan.build.name, plan.choices.describe(), plan.sim, network, reset)
    with step("operator walks the wizard"):
        operator.wait(name, handset.serial, instructions, cancel=cancel, say=reporter.line)
    with step(f"observe {plan.window:.0f} host s"):
        # no adb, no device clock: the window is the host's (a virtual lab's clock runs faster)
        with reporter.window(f"{name}: observing", plan.window) as bar:
            start = time.monotonic()
            while (done := time.monotonic() - start) < plan.window:
                if cancel.wait(min(0.5, plan.window - done)):
                    raise RunInterruptedError("stopped during the window", serial=handset.serial,
                                              step="observe")
                bar.advance_to(time.monotonic() - start)
        outcome.observed = time.monotonic() - start


def _bootloader_checks(handset: Handset, plan: HandsetPlan) -> tuple[list[Check], bool]:
    """The lock, as the running system reports it (no reboot), and whether the build can go on
    through recovery instead of fastboot; and whether it is locked."""
    try:
        props = handset.properties()
    except DevicelabError:
        return [], False  # not reachable over adb: flashing says why soon enough
    if props.get("ro.boot.flash.locked") != "1":
        return [], False
    slot = props.get("ro.boot.slot_suffix", "").lstrip("_") or "?"
    check = locked_check(handset.entry.id, handset.entry, f"slot {slot}", plan.build,
                         debuggable=props.get("ro.debuggable") == "1", no_flash=not plan.flash,
                         upgrade=plan.from_build is not None)
    return [check], True


def _observe(handset: Handset, seconds: float, reporter: Reporter, name: str, cancel: threading.Event) -> float:
    window = Window(handset, cancel=cancel)
    with reporter.window(f"{name}: observing", seconds) as bar:
        window.wait(seconds, progress=bar.advance_to)
    return window.close().device_seconds


def _finish_capture(capture: HandsetCapture, outcome: HandsetOutcome, plan: HandsetPlan, timeline: Timeline,
                    name: str) -> None:
    """Stop the capture (the evidence is flushed first), then analyse whatever it saw: a leak seen
    before a fault is still a finding."""
    try:
        with timeline.step("stop capture", name):
            capture.stop()
    except DevicelabError as exc:
        if outcome.error is None:
            outcome.error, outcome.error_step = exc, "stop capture"
    files = [(capture.evidence_path, "capture evidence log (JSON Lines)"),
             (capture.capture.har_path, "capture (HAR export)")]
    if capture.gateway is not None:
        files += capture.gateway.evidence()
        if capture.gateway.accounting is not None:
            outcome.connections = capture.gateway.accounting.rows
    for path, what in files:
        if path.exists():
            outcome.evidence.append((path, what))
    if outcome.identity is None or not capture.evidence_path.exists():
        return
    with timeline.step("analyse", name):
        outcome.report = capture.judge(outcome.identity, plan.policy, before=outcome.update_at)
        outcome.before_update = capture.judged_before


def _restore_sim(handset: Handset, plan: HandsetPlan) -> None:
    """Leave the slot as the lab lists it, for whoever leases the handset next (best effort)."""
    if plan.sim is None or plan.sim == handset.entry.sim:
        return
    try:
        handset.insert_sim(handset.entry.sim, timeout=handset.timeouts.shell)
    except DevicelabError as exc:
        log.warning("[%s] could not put SIM %s back: %s", handset.serial, handset.entry.sim, exc)


def _screenshot(handset: Handset, outcome: HandsetOutcome, workdir: Path, label: str) -> None:
    try:
        png = handset.screenshot()
    except DevicelabError as exc:
        log.warning("[%s] screenshot %s: %s", handset.serial, label, exc)
        return
    path = workdir / f"screen-{label}.png"
    path.write_bytes(png)
    outcome.screenshots.append((time.time(), path))
    outcome.evidence.append((path, f"screenshot: {label}"))


def _save_logcat(handset: Handset, outcome: HandsetOutcome, workdir: Path) -> None:
    try:
        outcome.logcat = handset.logcat()
    except DevicelabError as exc:
        log.warning("[%s] logcat: %s", handset.serial, exc)
        return
    path = workdir / "logcat.txt"
    path.write_text(outcome.logcat)
    outcome.evidence.append((path, "logcat (threadtime)"))


def choices_for(consent: str, wifi: bool) -> Choices:
    return Choices(consent=Consent.ACCEPT_ALL if consent == "accept" else Consent.DECLINE_ALL, wifi=wifi)
