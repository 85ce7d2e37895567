"""`Handset`: one leased handset, composed of its adb and fastboot access, its inventory entry
and its timeouts. Suites use this public API; it is the same for every kind of handset."""

from __future__ import annotations

import contextlib
import functools
import logging
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from devicelab.adb import BOOT_ID, AdbDevice, DeviceState, ShellResult
from devicelab.errors import AdbError, AdbTimeoutError, BootTimeoutError, FastbootError, HandsetError
from devicelab.handset import clock, recovery, sim
from devicelab.handset.fastboot import Fastboot
from devicelab.handset.images import factory_image, ota_package
from devicelab.handset.network import NetworkPlug
from devicelab.handset.sim import SimSwitcher
from devicelab.model import secret
from devicelab.model.builds import Build, available_builds, load_build
from devicelab.model.identity import Identity
from devicelab.model.inventory import HandsetEntry, Timeouts
from devicelab.model.secret import redact
from devicelab.model.sims import SimProfile, load_sim
from devicelab.model.traffic import CoverageGap

if TYPE_CHECKING:
    from devicelab.handset.ui import HandsetUi
    from devicelab.model.sims import SimProfile

log = logging.getLogger(__name__)

BOOT_POLL = 0.1
P = ParamSpec("P")
R = TypeVar("R")


def _step(describe: Callable[..., str]) -> Callable[[Callable[Concatenate[Handset, P], R]],
                                                     Callable[Concatenate[Handset, P], R]]:
    """A step a report shows (the pytest plugin makes it an Allure step): named from the call."""
    def wrap(method: Callable[Concatenate[Handset, P], R]) -> Callable[Concatenate[Handset, P], R]:
        @functools.wraps(method)
        def stepped(self: Handset, /, *args: P.args, **kwargs: P.kwargs) -> R:
            with self.step(describe(*args, **kwargs)):
                return method(self, *args, **kwargs)
        return stepped
    return wrap


def _no_step(_name: str) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


class Handset:
    def __init__(self, entry: HandsetEntry, adb: AdbDevice, fastboot: Fastboot, timeouts: Timeouts) -> None:
        self.entry = entry
        self.adb = adb
        self.fastboot = fastboot
        self.timeouts = timeouts
        self.identity_warnings: list[str] = []
        self.identity_gaps: list[CoverageGap] = []  # what the last identity() could not read or trust
        #: how SIMs get into this handset's slot; None: an operator is asked (devicelab.handset.sim)
        self.sim_switcher: SimSwitcher | None = None
        self.network_plug: NetworkPlug | None = None  # the lab plugs it into a gateway link (gateway capture)
        #: run after every boot wait_for_boot saw complete: what a reboot undid is redone (a CA overlay)
        self.after_boot: list[Callable[[], None]] = []
        #: run as soon as wait_for_boot sees adb back, before the boot completes: what dies with the
        #: adb link is redone before the apps start talking (an `adb reverse` rule for the proxy)
        self.after_adb: list[Callable[[], None]] = []
        self._ui: HandsetUi | None = None
        #: how the steps of this handset are reported: nothing by default, Allure steps in pytest
        self.step: Callable[[str], contextlib.AbstractContextManager[Any]] = _no_step
        #: the SIM this handset was last given through `insert_sim` (None: taken out); unset: the inventory's
        self._sim_in: SimProfile | None = None
        self._sim_set = False

    def __repr__(self) -> str:
        return f"Handset({self.entry.id}, {redact(self.serial)})"  # it ends up in tracebacks

    @property
    def serial(self) -> str:
        """`ro.serialno`: the handset's own name (never the adb address)."""
        return self.entry.serialno

    @property
    def model(self) -> str:
        return self.entry.model

    # -- shell and properties ------------------------------------------------------------
    def shell(self, command: str, *, timeout: float | None = None, check: bool = False) -> ShellResult:
        return self.adb.shell(command, timeout=timeout or self.timeouts.shell, check=check)

    def getprop(self, name: str) -> str:
        return self.adb.getprop(name, timeout=self.timeouts.shell)

    def properties(self) -> dict[str, str]:
        """All system properties (`getprop`)."""
        out = self.shell("getprop", check=True).stdout
        props = {}
        for line in out.splitlines():
            if line.startswith("[") and "]: [" in line:
                key, _, value = line[1:].partition("]: [")
                props[key] = value.removesuffix("]")
        return props

    def fingerprint(self) -> str:
        return self.getprop("ro.build.fingerprint")

    def build(self) -> Build:
        """The build the handset runs: the manifest in fixtures/builds/ with its fingerprint."""
        running = self.fingerprint()
        found = next((b for b in map(load_build, available_builds()) if b.fingerprint == running), None)
        if found is None:
            raise HandsetError(f"runs {running}, which no build manifest in fixtures/builds/ describes",
                               serial=self.serial, step="identify the build")
        return found

    # -- UI ------------------------------------------------------------------------------
    def ui(self) -> HandsetUi:
        """uiautomator2 on this handset, through its own adb server (connected on first use)."""
        if self._ui is None:
            from devicelab.handset.ui import HandsetUi

            self._ui = HandsetUi(self)
        return self._ui

    def recoveries(self) -> list[str]:
        """Recoveries inside a step that no retry of the step shows (the run record should note
        them): the uiautomator server restarted after it died."""
        ui = self._ui
        if ui is None or not ui.recoveries:
            return []
        return [f"the uiautomator server was restarted {ui.recoveries} time(s); the step went on"]

    # -- identity ------------------------------------------------------------------------
    def identity(self, sim: str | SimProfile | None = None) -> Identity:
        """The identifiers this handset reports (IMEIs, SIM, MACs, Android ID, cell, ...) united with
        what the lab knows (the inventory, and `sim`'s profile: the SIM this run put in). Mismatches
        are kept in `identity_warnings`; kinds unread or implausible in `identity_gaps` (the capture's
        judge counts them)."""
        from devicelab.handset.identity import read_identity

        reading = read_identity(self, load_sim(sim) if isinstance(sim, str) else (sim or self.inserted_sim()))
        secret.remember(value for _, value in reading.identity.identifiers())
        self.identity_warnings = reading.warnings
        self.identity_gaps = reading.gaps
        return reading.identity

    def identity_from_lab(self, sim: str | SimProfile | None, fingerprint: str, why: str) -> Identity:
        """`identity` for a handset that cannot be asked (adb off): the lab's values alone, each
        kind it lacks a counted gap (`identity_gaps`)."""
        from devicelab.handset.identity import lab_identity

        reading = lab_identity(self, load_sim(sim) if isinstance(sim, str) else sim, fingerprint, why)
        secret.remember(value for _, value in reading.identity.identifiers())
        self.identity_warnings = reading.warnings
        self.identity_gaps = reading.gaps
        return reading.identity

    # -- health --------------------------------------------------------------------------
    def check_health(self) -> None:
        """Booted, answering, and the handset the inventory says it is."""
        self.wait_for_boot(step="health check")
        actual = self.getprop("ro.serialno")
        if actual != self.serial:
            raise HandsetError(f"adb address {self.adb.adb_serial} answers as {actual!r}, not this handset",
                               serial=self.serial, step="health check")

    # -- reboots -------------------------------------------------------------------------
    def wait_for_boot(self, timeout: float | None = None, *, step: str = "wait-for-boot") -> float:
        """Wait until the handset is booted (`sys.boot_completed`); returns the seconds it took.

        BootTimeoutError when it is not booted in time; it says whether the handset kept rebooting
        meanwhile (a boot loop: adb came and went, each time with a new boot id) or kept dropping
        off adb, from what the polling saw."""
        limit = timeout or self.timeouts.boot
        start = time.monotonic()
        end = start + limit
        watch = _BootWatch()
        fresh = True  # adb (re)appeared: learn which boot answers
        while (left := end - time.monotonic()) > 0:
            try:
                if self.adb.state() != DeviceState.DEVICE:
                    # off adb: a cable, or the system going down again; when it is back, ask which boot it is
                    watch.dropped()
                    fresh = True
                    self.adb.wait_for_device(left, step=step)
            except AdbTimeoutError:
                break
            try:
                call = min(5.0, max(end - time.monotonic(), 0.5))
                if fresh:
                    watch.saw(self.boot_id(call, check=False))
                    fresh = False
                    for hook in list(self.after_adb):
                        hook()
                if self.adb.getprop("sys.boot_completed", timeout=call) == "1":
                    for hook in list(self.after_boot):
                        hook()
                    return time.monotonic() - start
            except AdbError:  # adbd went away mid-question
                watch.dropped()
                fresh = True
            time.sleep(BOOT_POLL)
        what = f"sys.boot_completed not 1 after {limit:.0f} s" if watch.online else f"not on adb after {limit:.0f} s"
        raise BootTimeoutError(what + watch.describe(), serial=self.serial, step=step, reboots=watch.reboots,
                               drops=watch.drops)

    def wait_until_steady(self, timeout: float | None = None, *, settle: float = 1.0,
                          step: str = "wait until steady") -> None:
        """Wait until the handset has stayed on adb for `settle` seconds in a row: a flaky cable has
        stopped dropping. AdbTimeoutError naming handset and step after `timeout` (the boot timeout)."""
        limit = timeout or self.timeouts.boot
        end = time.monotonic() + limit
        since: float | None = None
        while (now := time.monotonic()) < end:
            try:
                online = self.adb.state() == DeviceState.DEVICE
            except AdbError:
                online = False
            since = (since or now) if online else None
            if since is not None and now - since >= settle:
                return
            time.sleep(BOOT_POLL)
        raise AdbTimeoutError(f"not steadily on adb for {settle:g} s within {limit:.0f} s", serial=self.serial,
                              step=step)

    def boot_id(self, timeout: float | None = None, *, check: bool = True) -> str:
        """This boot's id, new on every boot; "" when it cannot be read and `check` is off."""
        result = self.shell(f"cat {BOOT_ID}", timeout=timeout, check=check)
        return result.stdout.strip() if result.ok else ""

    @_step(lambda: "reboot")
    def reboot(self) -> float:
        """Reboot and wait until booted again; returns the boot time in seconds."""
        self.adb.reboot("system", timeout=self.timeouts.reboot_drop)
        return self.wait_for_boot()

    def reboot_bootloader(self) -> None:
        """Reboot into fastboot mode and wait until the bootloader answers."""
        if self.adb.state() == DeviceState.DEVICE:
            self.adb.reboot("bootloader", timeout=self.timeouts.reboot_drop)
        self.fastboot.wait_for_target(self.timeouts.boot)

    def _boot_from_bootloader(self) -> float:
        self.fastboot.reboot(timeout=self.timeouts.fastboot)
        return self.wait_for_boot()

    # -- flashing and resets -------------------------------------------------------------
    @_step(lambda build, **_: f"flash {build.name}")
    def flash(self, build: Build, *, image: Path | None = None, wipe: bool = False) -> None:
        """Flash a factory image with `fastboot update`, boot it, and check the fingerprint (as
        Tradefed does): a handset that boots something else is an error, not a pass."""
        zip_path = image or factory_image(build)
        step = f"flash {build.name}"
        self.reboot_bootloader()
        try:
            # a flash that prints nothing for a fastboot timeout has lost its link: retry sooner than `flash`
            self.fastboot.update(zip_path, wipe=wipe, timeout=self.timeouts.flash, stall=self.timeouts.fastboot)
        except FastbootError:
            log.error("[%s] %s failed", self.serial, step)
            raise
        self.wait_for_boot()
        self.expect_build(build, step=step)

    def expect_build(self, build: Build, *, step: str = "check build") -> None:
        actual = self.fingerprint()
        if actual != build.fingerprint:
            raise HandsetError(f"expected {build.fingerprint} but the handset runs {actual}",
                               serial=self.serial, step=step)

    @_step(lambda: "factory reset")
    def factory_reset(self) -> float:
        """Wipe userdata and metadata from fastboot, boot, and wait: Android starts over (new
        Android ID, setup wizard). Returns the boot time."""
        self.reboot_bootloader()
        self._wipe()
        return self._boot_from_bootloader()

    def _wipe(self) -> None:
        for partition in ("userdata", "metadata"):
            self.fastboot.erase(partition, timeout=self.timeouts.fastboot)

    @_step(lambda build, **_: f"flash {build.name} and wipe (no adb after)")
    def flash_wiped_unattended(self, build: Build, *, image: Path | None = None) -> None:
        """Flash and wipe in one bootloader session, then start Android without waiting on adb: a
        retail build's adb is off after a wipe (a person walks its wizard). Its fingerprint cannot
        be read back; the caller says so."""
        self.reboot_bootloader()  # through adb, from the build running now
        self.fastboot.update(image or factory_image(build), timeout=self.timeouts.flash, stall=self.timeouts.fastboot,
                             reboot=False)
        self._wipe()
        self.fastboot.reboot(timeout=self.timeouts.fastboot)

    # -- a locked bootloader: through recovery (devicelab.handset.recovery) ---------------------
    @_step(lambda build, **_: f"sideload {build.name}")
    def install_ota(self, build: Build, *, package: Path | None = None) -> float:
        """Install `build`'s signed full OTA through recovery (`adb sideload`), boot, check the
        fingerprint: what a locked bootloader allows instead of `flash`."""
        return recovery.install_ota(self, build, package or ota_package(build))

    @_step(lambda: "factory reset through recovery")
    def recovery_reset(self) -> float:
        """Wipe userdata through recovery, as Settings' "Erase all data" does: what a locked
        bootloader allows instead of `fastboot erase`. Returns the boot time."""
        return recovery.wipe_data(self)

    @_step(lambda build: f"update to {build.name}")
    def update(self, build: Build) -> None:
        """An OTA's effect: `build` flashed over the running one without a wipe, so the next boot
        sees a new fingerprint with the same user data."""
        self.flash(build, wipe=False)

    # -- activation triggers ---------------------------------------------------------------
    @_step(lambda: "cold boot")
    def cold_boot(self) -> float:
        """A cold boot: through the bootloader, as after power-on. Returns the boot time."""
        self.reboot_bootloader()
        return self._boot_from_bootloader()

    @_step(lambda: "screen on + unlock")
    def unlock(self) -> None:
        """Screen off, then on, then unlocked: MENU dismisses an insecure keyguard on Android 9;
        `wm dismiss-keyguard` follows where the handset has it (its failure is logged, not fatal)."""
        for command in ("input keyevent KEYCODE_SLEEP", "input keyevent KEYCODE_WAKEUP", "input keyevent 82"):
            self.shell(command, check=True)
        dismissed = self.shell("wm dismiss-keyguard")
        if not dismissed.ok:
            log.warning("[%s] wm dismiss-keyguard: exit %d (%s); MENU was sent", self.serial, dismissed.exit_code,
                        (dismissed.stderr or dismissed.stdout).strip().splitlines()[:1])

    @_step(lambda profile, **_: f"SIM {getattr(profile, 'name', profile) or 'out'}")
    def insert_sim(self, profile: str | SimProfile | None, *, timeout: float = 60.0,
                   switcher: SimSwitcher | None = None) -> None:
        """Put a SIM in (None: take it out), wait until the handset sees it, then turn mobile data on."""
        loaded = load_sim(profile) if isinstance(profile, str) else profile
        self._sim_set = False  # unknown until the handset reports the new one
        sim.insert_sim(self, loaded, timeout=timeout, switcher=switcher)
        self._sim_in, self._sim_set = loaded, True

    def inserted_sim(self) -> SimProfile | None:
        """The SIM in the slot: the one last inserted here (the gate's `--sim`), else the inventory's.
        Its cell is where the handset is: the location geofence follows it."""
        if self._sim_set:
            return self._sim_in
        return load_sim(self.entry.sim) if self.entry.sim else None

    def sim_state(self) -> tuple[str, str]:
        """(state, MCC+MNC) of slot 1 as the handset reports them."""
        return sim.sim_state(self)

    # -- clock ---------------------------------------------------------------------------
    def device_time(self) -> int:
        """Seconds since the epoch on the handset's clock."""
        return clock.device_time(self)

    def clock_rate(self) -> float:
        """Device seconds per host second, measured now."""
        return clock.measure_clock_rate(self)

    # -- evidence ------------------------------------------------------------------------
    def screenshot(self) -> bytes:
        """A PNG of the screen."""
        return self.adb.exec_out("screencap -p", timeout=self.timeouts.shell)

    def logcat(self) -> str:
        return self.shell("logcat -d -v threadtime", timeout=self.timeouts.shell).stdout

    def mark_log(self, text: str) -> None:
        """Write a line into the handset's log, to cut per-test excerpts later."""
        try:
            self.shell(f"log -t devicelab {shlex.quote(text)}")
        except AdbError as exc:
            log.warning("[%s] could not mark the log: %s", self.serial, exc)


class _BootWatch:
    """What waiting for a boot saw: each boot by its boot id, and how often adb dropped."""

    def __init__(self) -> None:
        self.boots: list[str] = []
        self.drops = 0
        self.online = False  # answered on adb at least once

    def dropped(self) -> None:
        if self.online:  # not yet up at all is no drop
            self.drops += 1

    def saw(self, boot_id: str) -> None:
        self.online = True
        if boot_id and (not self.boots or self.boots[-1] != boot_id):
            self.boots.append(boot_id)

    @property
    def reboots(self) -> int:
        return max(0, len(self.boots) - 1)

    def describe(self) -> str:
        if self.reboots > 1:
            return f"; it rebooted {self.reboots} times while booting (boot loop)"
        if self.reboots == 1:
            return "; it rebooted once while booting"
        if self.drops:
            return f"; adb dropped {self.drops} time(s) meanwhile"
        return ""
