"""One handset through the gate: flash, reset, capture, first boot, activation, observation."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from devicelab import activation
from devicelab.analysis.scan import ScanReport, scan_captures
from devicelab.builds import Build
from devicelab.capture.config import CaptureConfig, HostRule, ProxySpec, UpstreamRouting
from devicelab.capture.session import HandsetCapture
from devicelab.errors import DevicelabError, InfrastructureError
from devicelab.flows import Choices, Consent, first_boot
from devicelab.gate.timeline import Timeline
from devicelab.handset import Handset
from devicelab.identity import Identity
from devicelab.policy import Policy
from devicelab.progress import Reporter
from devicelab.retry import with_retries

log = logging.getLogger(__name__)
T = TypeVar("T")

#: attempts for lab steps (flash, reset, first boot); observation and analysis are never repeated
INFRA_ATTEMPTS = 2
#: device seconds between two reads of the clock while the window passes
WINDOW_SLICE = 60.0
#: device time may run this much faster than measured before it counts as a clock jump
CLOCK_SLACK = 2.0
CLOCK_MARGIN = 30.0


@dataclass
class HandsetOutcome:
    """What one handset's run produced; `error` is the infrastructure failure that ended it early."""

    handset: Handset
    identity: Identity | None = None
    report: ScanReport | None = None
    error: DevicelabError | None = None
    error_step: str = ""
    consent: dict[str, bool] = field(default_factory=dict)
    observed: float | None = None
    evidence: list[tuple[Path, str]] = field(default_factory=list)  # (file, description)
    screenshots: list[tuple[float, Path]] = field(default_factory=list)  # (host time, png)
    logcat: str = ""
    retries: list[str] = field(default_factory=list)  # lab steps that needed a second attempt


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
    #: activation triggers after first boot, in order (see TRIGGERS); the gate's default covers them all
    triggers: tuple[str, ...] = ("unlock", "reboot", "unlock")


def run_handset(handset: Handset, plan: HandsetPlan, workdir: Path, timeline: Timeline,
                reporter: Reporter) -> HandsetOutcome:
    outcome = HandsetOutcome(handset)
    name = handset.entry.id
    current = ""

    def step(label: str) -> contextlib.AbstractContextManager[None]:
        nonlocal current
        current = label
        return timeline.step(label, name)

    def retry(what: str, work: Callable[[], T], before: Callable[[], object] | None = None) -> T:
        return with_retries(what, work, attempts=INFRA_ATTEMPTS, label=handset.serial, notes=outcome.retries,
                            before_retry=before)

    capture: HandsetCapture | None = None
    try:
        first = plan.from_build or plan.build
        with step(f"flash {first.name}"), reporter.status(f"{name}: flashing {first.name}"):
            retry(f"flash {first.name}", lambda: handset.flash(first))
        if plan.sim:
            # SIM out for the first boot: activation happens when it goes in, inside the capture window
            with step("take the SIM out"):
                activation.insert_sim(handset, None)
        with step("factory reset"), reporter.status(f"{name}: factory reset"):
            retry("factory reset", handset.factory_reset)
        config = CaptureConfig(
            mode=plan.proxy.mode, listen_host=plan.proxy.listen_host, advertise_host=plan.proxy.advertise_host,
            sinkhole=HostRule(plan.sinkhole) if plan.sinkhole else None,
            upstream_hosts=dict(plan.upstream.hosts), upstream_ca=plan.upstream.ca, upstream_only=plan.upstream.only,
            upstream_names=dict(plan.upstream.names),
            max_body_bytes=plan.proxy.max_body_bytes, label=handset.serial,
        ).check()
        capture = HandsetCapture(handset, workdir / "capture", config, canary_timeout=plan.proxy.canary_timeout,
                                 sample_interval=plan.proxy.sample_interval, shell_timeout=handset.timeouts.shell,
                                 defer_canary=True)
        with step("start capture"), reporter.status(f"{name}: starting the capture (proxy, CA)"):
            capture.start()
        if plan.sim:
            with step(f"insert SIM {plan.sim}"), reporter.status(f"{name}: SIM {plan.sim} in, mobile data on"):
                activation.insert_sim(handset, plan.sim)
        with step("read identity"):
            outcome.identity = handset.identity()
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
            with step(TRIGGERS[trigger]), reporter.status(f"{name}: {TRIGGERS[trigger]}"):
                _trigger(handset, trigger, plan)
        with step(f"observe {plan.window:.0f} device s"):
            outcome.observed = _observe(handset, plan.window, reporter, name)
        # the handset may have lost its network (or SIM) during the window: prove it still reaches the capture
        with step("canary after the window"):
            capture.run_canary()
        _screenshot(handset, outcome, workdir, "end-of-window")
    except DevicelabError as exc:
        outcome.error, outcome.error_step = exc, current
        log.error("[%s] %s: %s", handset.serial, current, exc)
    finally:
        outcome.retries += handset.recoveries()  # a step that went on after a recovery says so
        if capture is not None:
            _finish_capture(capture, outcome, plan, timeline, name)
        _save_logcat(handset, outcome, workdir)
        _restore_sim(handset, plan)
    return outcome


#: activation triggers a plan can ask for, and how the timeline names them
TRIGGERS = {
    "boot": "boot (observe only)",
    "unlock": "screen on + unlock",
    "reboot": "reboot",
    "sim_change": "SIM out and in again",
    "update": "update to the candidate build",
}


def _trigger(handset: Handset, trigger: str, plan: HandsetPlan) -> None:
    if trigger == "unlock":
        activation.trigger_screen_on_unlock(handset)
    elif trigger == "reboot":
        activation.trigger_reboot(handset)
    elif trigger == "sim_change":
        activation.trigger_sim_change(handset, None)
        activation.trigger_sim_change(handset, plan.sim)
    elif trigger == "update":
        handset.flash(plan.build, wipe=False)


def _observe(handset: Handset, window: float, reporter: Reporter, name: str) -> float:
    boot = handset.boot_id()
    host_start, device_start = time.monotonic(), activation.device_time(handset)
    rate = activation.measure_clock_rate(handset)
    done = 0.0
    with reporter.window(f"{name}: observing", window) as bar:
        while done < window:
            part = min(WINDOW_SLICE, window - done)
            done += activation.observe(handset, part, rate=rate).device_seconds
            bar.advance_to(done)
    if handset.boot_id() != boot:
        # traffic while it was down, and the boot's own, was never part of the plan: the window does not count
        raise InfrastructureError("the handset rebooted during the observation window", serial=handset.serial,
                                  step="observe")
    # the rate again: a clock that jumped while the first was measured makes that one huge
    trusted = min(rate, activation.measure_clock_rate(handset))
    advanced, host = activation.device_time(handset) - device_start, time.monotonic() - host_start
    if advanced > host * trusted * CLOCK_SLACK + CLOCK_MARGIN:
        raise InfrastructureError(f"device time advanced {advanced} s in {host:.1f} host seconds at {trusted:.2f}x: "
                                  "the device clock jumped, the window did not really pass", serial=handset.serial,
                                  step="observe")
    return done


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
    for path, what in ((capture.evidence_path, "capture evidence log (JSON Lines)"),
                       (capture.capture.har_path, "capture (HAR export)")):
        if path.exists():
            outcome.evidence.append((path, what))
    if outcome.identity is None or not capture.evidence_path.exists():
        return
    with timeline.step("analyse", name):
        outcome.report = scan_captures([capture.evidence_path], outcome.identity, plan.policy,
                                       extra_gaps=capture.gaps())


def _restore_sim(handset: Handset, plan: HandsetPlan) -> None:
    """Leave the slot as the lab lists it, for whoever leases the handset next (best effort)."""
    if plan.sim is None or plan.sim == handset.entry.sim:
        return
    try:
        activation.insert_sim(handset, handset.entry.sim, timeout=handset.timeouts.shell)
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
