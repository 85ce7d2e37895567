"""`Handset`: one leased handset, composed of its adb and fastboot access, its inventory entry
and its timeouts. Suites use this public API; it is the same for every kind of handset."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from devicelab.adb import AdbDevice, DeviceState, ShellResult
from devicelab.builds import Build
from devicelab.errors import AdbError, FastbootError, HandsetError
from devicelab.fastboot import Fastboot
from devicelab.identity import Identity
from devicelab.images import factory_image
from devicelab.inventory import HandsetEntry, Timeouts

if TYPE_CHECKING:
    from devicelab.activation import SimSwitcher
    from devicelab.flows.ui import HandsetUi

log = logging.getLogger(__name__)


class Handset:
    def __init__(self, entry: HandsetEntry, adb: AdbDevice, fastboot: Fastboot, timeouts: Timeouts) -> None:
        self.entry = entry
        self.adb = adb
        self.fastboot = fastboot
        self.timeouts = timeouts
        self.identity_warnings: list[str] = []
        #: how SIMs get into this handset's slot; None: an operator is asked (devicelab.activation)
        self.sim_switcher: SimSwitcher | None = None
        self._ui: HandsetUi | None = None

    def __repr__(self) -> str:
        return f"Handset({self.entry.id}, {self.serial})"

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

    # -- UI ------------------------------------------------------------------------------
    def ui(self) -> HandsetUi:
        """uiautomator2 on this handset, through its own adb server (connected on first use)."""
        if self._ui is None:
            from devicelab.flows.ui import HandsetUi

            self._ui = HandsetUi(self)
        return self._ui

    # -- identity ------------------------------------------------------------------------
    def identity(self) -> Identity:
        """The identifiers this handset reports (IMEIs, SIM, MACs, Android ID, cell, ...), checked
        against the inventory; differences are kept in `identity_warnings`."""
        from devicelab.handset_identity import read_identity

        reading = read_identity(self)
        self.identity_warnings = reading.warnings
        return reading.identity

    # -- health --------------------------------------------------------------------------
    def check_health(self) -> None:
        """Booted, answering, and the handset the inventory says it is."""
        self.adb.wait_for_boot_completed(self.timeouts.boot, step="health check")
        actual = self.getprop("ro.serialno")
        if actual != self.serial:
            raise HandsetError(f"adb address {self.adb.adb_serial} answers as {actual!r}, not this handset",
                               serial=self.serial, step="health check")

    # -- reboots -------------------------------------------------------------------------
    def wait_for_boot(self, timeout: float | None = None) -> float:
        """Wait until the handset is booted (`sys.boot_completed`); returns the seconds it took."""
        return self.adb.wait_for_boot_completed(timeout or self.timeouts.boot)

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
    def flash(self, build: Build, *, image: Path | None = None, wipe: bool = False) -> None:
        """Flash a factory image with `fastboot update`, boot it, and check the fingerprint (as
        Tradefed does): a handset that boots something else is an error, not a pass."""
        zip_path = image or factory_image(build)
        step = f"flash {build.name}"
        self.reboot_bootloader()
        try:
            self.fastboot.update(zip_path, wipe=wipe, timeout=self.timeouts.flash)
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

    def factory_reset(self) -> float:
        """Wipe userdata and metadata from fastboot, boot, and wait: Android starts over (new
        Android ID, setup wizard). Returns the boot time."""
        self.reboot_bootloader()
        for partition in ("userdata", "metadata"):
            self.fastboot.erase(partition, timeout=self.timeouts.fastboot)
        return self._boot_from_bootloader()

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
