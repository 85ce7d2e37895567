"""Activation: what makes activation clients on a handset talk, and how long to watch them.

- SIMs: a `SimSwitcher` puts a SIM profile in a handset's slot. Labs whose provider can do it
  hand one to each handset (`Handset.sim_switcher`: the virtual lab's control channel, a
  hardware SIM bank); otherwise `OperatorSimSwitcher` asks a person and waits for them.
- Triggers, one step each: boot, reboot, SIM inserted or changed, screen on + unlock, and a
  build change after an update (flash the `from` build, then the candidate over it).
- The observation window is counted in device time (`date +%s` on the handset): a virtual lab
  runs a scaled clock where an hour passes in seconds, a real handset runs at 1x. The host-side
  bound comes from the clock rate measured on the handset.

    SimSwitchError          a SIM did not get in (no operator, no confirmation, not seen)
    ObservationTimeoutError device time did not advance as measured
"""

from __future__ import annotations

import logging
import re
import select
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from devicelab.builds import Build
from devicelab.errors import HandsetError
from devicelab.handset import Handset
from devicelab.sims import SimProfile, load_sim

log = logging.getLogger(__name__)


class SimSwitchError(HandsetError):
    """The SIM could not be put in, or the handset does not see it."""


class ObservationTimeoutError(HandsetError):
    """Device time did not reach the end of the observation window within the host bound."""


class SimSwitcher(Protocol):
    """Puts a SIM profile in a handset's slot (None: takes the SIM out); returns once it is in."""

    def insert(self, handset: Handset, sim: SimProfile | None, *, timeout: float) -> None: ...


def _stdin_confirm(prompt: str, timeout: float) -> bool:
    """Print `prompt` and wait for Enter on a terminal; False when nobody answers in time."""
    stream = sys.stdin
    try:
        interactive = stream is not None and stream.isatty()
    except (OSError, ValueError):
        interactive = False
    if not interactive:
        raise SimSwitchError("no operator to ask: stdin is not a terminal (run pytest with -s, or give the "
                             "handset a SIM switcher)")
    print(prompt, file=sys.stderr, flush=True)
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        return False
    stream.readline()
    return True


class OperatorSimSwitcher:
    """Asks a person at the rack to move the SIM, and waits (bounded) for them to confirm."""

    def __init__(self, confirm: Callable[[str, float], bool] = _stdin_confirm) -> None:
        self.confirm = confirm

    def insert(self, handset: Handset, sim: SimProfile | None, *, timeout: float) -> None:
        if sim is None:
            what = "take the SIM out of"
        else:
            what = f"insert SIM {sim.name} ({sim.operator}, ICCID {sim.iccid}) into slot 1 of"
        prompt = f"\n>>> Please {what} handset {handset.serial} ({handset.entry.id}), then press Enter."
        if not self.confirm(prompt, timeout):
            raise SimSwitchError(f"nobody confirmed the SIM change within {timeout:.0f} s", serial=handset.serial,
                                 step="insert SIM")


def switcher_for(handset: Handset) -> SimSwitcher:
    return handset.sim_switcher or OperatorSimSwitcher()


# -- the SIM ---------------------------------------------------------------------------------
def sim_state(handset: Handset) -> tuple[str, str]:
    """(state, MCC+MNC) of slot 1 as the handset reports them (`gsm.sim.state`, `gsm.sim.operator.numeric`)."""
    state = handset.getprop("gsm.sim.state").split(",")[0]
    numeric = handset.getprop("gsm.sim.operator.numeric").split(",")[0]
    return state, numeric


def insert_sim(handset: Handset, sim: str | SimProfile | None, *, timeout: float = 60.0,
               switcher: SimSwitcher | None = None) -> None:
    """Put a SIM in (None: take it out), wait until the handset sees it, then turn mobile data on."""
    profile = load_sim(sim) if isinstance(sim, str) else sim
    step = f"insert SIM {profile.name if profile else '(none)'}"
    (switcher or switcher_for(handset)).insert(handset, profile, timeout=timeout)
    wanted = ("READY", profile.mccmnc) if profile else ("ABSENT", "")
    end = time.monotonic() + timeout
    seen = sim_state(handset)
    while seen != wanted and not (profile is None and seen[0] in ("ABSENT", "NOT_READY", "UNKNOWN")):
        if time.monotonic() >= end:
            raise SimSwitchError(f"the handset reports SIM {seen[0]} {seen[1] or '-'}, not {wanted[0]} "
                                 f"{wanted[1] or '-'} after {timeout:.0f} s", serial=handset.serial, step=step)
        time.sleep(0.1)
        seen = sim_state(handset)
    if profile is not None:
        handset.shell("svc data enable", check=True)


# -- triggers --------------------------------------------------------------------------------
def trigger_boot(handset: Handset) -> float:
    """A cold boot: through the bootloader, as after power-on. Returns the boot time."""
    handset.reboot_bootloader()
    handset.fastboot.reboot(timeout=handset.timeouts.fastboot)
    return handset.wait_for_boot()


def trigger_reboot(handset: Handset) -> float:
    """`adb reboot`, and wait until booted. Returns the boot time."""
    return handset.reboot()


def trigger_sim_change(handset: Handset, sim: str | SimProfile | None, *, timeout: float = 60.0) -> None:
    """SIM inserted or changed (None: removed)."""
    insert_sim(handset, sim, timeout=timeout)


def trigger_screen_on_unlock(handset: Handset) -> None:
    """Screen off, then on, then unlocked: MENU dismisses an insecure keyguard on Android 9;
    `wm dismiss-keyguard` follows where the handset has it (its failure is logged, not fatal)."""
    for command in ("input keyevent KEYCODE_SLEEP", "input keyevent KEYCODE_WAKEUP", "input keyevent 82"):
        handset.shell(command, check=True)
    dismissed = handset.shell("wm dismiss-keyguard")
    if not dismissed.ok:
        log.warning("[%s] wm dismiss-keyguard: exit %d (%s); MENU was sent", handset.serial, dismissed.exit_code,
                    (dismissed.stderr or dismissed.stdout).strip().splitlines()[:1])


def trigger_build_change(handset: Handset, from_build: Build, to_build: Build) -> None:
    """An update: the handset runs `from_build` (flashed if needed), then `to_build` is flashed
    over it without a wipe, so the next boot sees a new fingerprint with the same user data."""
    if handset.fingerprint() != from_build.fingerprint:
        handset.flash(from_build)
    handset.flash(to_build, wipe=False)


# -- device time -----------------------------------------------------------------------------
def device_time(handset: Handset) -> int:
    """Seconds since the epoch on the handset's clock (`date +%s`)."""
    out = handset.shell("date +%s", check=True).stdout.strip()
    if not re.fullmatch(r"\d{1,12}", out):
        raise HandsetError(f"`date +%s` printed {out[:40]!r}", serial=handset.serial, step="read device time")
    return int(out)


def measure_clock_rate(handset: Handset, *, sample: float = 0.5, limit: float = 5.0,
                       clock: Callable[[], float] = time.monotonic) -> float:
    """Device seconds per host second, from the ticks of `date +%s` (1 s resolution): from the
    first tick seen to the last tick within `sample` host seconds (or the next tick, at 1x)."""
    end = clock() + limit
    start = device_time(handset)
    first: tuple[int, float] | None = None
    last: tuple[int, float] | None = None
    while clock() < end:
        now, at = device_time(handset), clock()
        if first is None:
            if now != start:
                first = (now, at)
        elif now != (last or first)[0]:
            last = (now, at)
            if at - first[1] >= sample:
                break
        time.sleep(0.001 if first is None else 0.005)
    if first is None or last is None:
        raise ObservationTimeoutError(f"the handset clock did not tick twice in {limit:.0f} s",
                                      serial=handset.serial, step="measure the device clock")
    return (last[0] - first[0]) / (last[1] - first[1])


@dataclass(frozen=True)
class Observation:
    """An observation window that passed: device seconds from start to end, host seconds it took."""

    device_start: int
    device_end: int
    host_seconds: float
    rate: float

    @property
    def device_seconds(self) -> int:
        return self.device_end - self.device_start


def observe(handset: Handset, device_seconds: float, *, rate: float | None = None, slack: float = 1.5,
            margin: float = 5.0, max_host_seconds: float | None = None,
            clock: Callable[[], float] = time.monotonic) -> Observation:
    """Wait until `device_seconds` of device time passed on the handset. The host bound is
    device_seconds / rate x slack + margin (the rate is measured when not given)."""
    rate = rate or measure_clock_rate(handset)
    bound = device_seconds / rate * slack + margin
    if max_host_seconds is not None:
        bound = min(bound, max_host_seconds)
    started = clock()
    start = device_time(handset)
    now = start
    while now - start < device_seconds:
        elapsed = clock() - started
        if elapsed >= bound:
            raise ObservationTimeoutError(
                f"device time advanced {now - start} of {device_seconds:.0f} s in {elapsed:.1f} host seconds "
                f"(measured rate {rate:.2f}x, bound {bound:.1f} s)", serial=handset.serial, step="observe")
        left = (device_seconds - (now - start)) / rate
        time.sleep(max(0.005, min(left / 2, 1.0, bound - elapsed)))
        now = device_time(handset)
    return Observation(start, now, clock() - started, rate)
