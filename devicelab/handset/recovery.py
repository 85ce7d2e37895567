"""A locked handset's two lab steps through recovery, with the real `adb` binary.

Install: `adb reboot sideload-auto-reboot` (adbd writes recovery's bootloader message, which needs
`adb root`), `adb wait-for-sideload`, `adb sideload PACKAGE` (recovery asks for the package block
by block, verifies its signature, product and age, installs it into the other slot, reboots).

Factory reset: on Android 9 a locked B2N has no cache partition for `/cache/recovery/command`,
fastboot refuses `erase`, recovery's menu needs the volume keys, and a shell may not send the
protected FACTORY_RESET broadcast. Root may (AMS lets uid 0 send it): the framework's
MasterClearReceiver then asks recovery for `--wipe_data` exactly as Settings' "Erase all data"
does. So both steps need a debuggable (userdebug) lab build; lab/preflight.py says so.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from devicelab.adb.client import DeviceState
from devicelab.adb.server import adb_binary
from devicelab.errors import AdbError, AdbTimeoutError, HandsetError, SideloadError

if TYPE_CHECKING:
    from devicelab.handset.handset import Handset
    from devicelab.model.builds import Build

log = logging.getLogger(__name__)

FACTORY_RESET = "am broadcast -a android.intent.action.FACTORY_RESET -p android --receiver-foreground"


def run_adb(handset: Handset, args: list[str], *, timeout: float, step: str) -> subprocess.CompletedProcess[str]:
    """`adb -H -P -s SERIAL ARGS` against the handset's own adb server; the caller judges the exit code."""
    server = handset.adb.client.server
    argv = [adb_binary(), "-H", server.host, "-P", str(server.port), "-s", handset.adb.adb_serial, *args]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise AdbTimeoutError(f"`adb {' '.join(args)}` did not finish in {timeout:.0f} s", serial=handset.serial,
                              step=step, command=argv, stdout=_text(exc.stdout), stderr=_text(exc.stderr)) from None
    for line in (proc.stdout + proc.stderr).splitlines():
        log.info("[%s] %s", handset.serial, line.rsplit("\r", 1)[-1])
    return proc


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def _root(handset: Handset, step: str) -> None:
    if not handset.adb.root(timeout=handset.timeouts.reboot_drop):
        raise AdbError("adb root is refused on this (user) build: recovery cannot be reached from adb",
                       serial=handset.serial, step=step, command="adb root")


def install_ota(handset: Handset, build: Build, package: Path) -> float:
    """Sideload `package` (the signed full OTA of `build`) through recovery; boot and check the
    fingerprint. Returns the seconds the install and boot took after the transfer."""
    step = f"sideload {build.name}"
    _root(handset, step)
    reboot = run_adb(handset, ["reboot", "sideload-auto-reboot"], timeout=handset.timeouts.reboot_drop, step=step)
    said = (reboot.stdout + reboot.stderr).strip()
    if reboot.returncode != 0 or said:  # adb exits 0 even when adbd refuses: it prints why
        raise AdbError(f"reboot into sideload refused: {said or f'exit {reboot.returncode}'}", serial=handset.serial,
                       step=step, command=reboot.args, stdout=reboot.stdout, stderr=reboot.stderr,
                       exit_code=reboot.returncode)
    waited = run_adb(handset, ["wait-for-sideload"], timeout=handset.timeouts.boot, step=step)
    if waited.returncode != 0:
        raise AdbError(f"wait-for-sideload: exit {waited.returncode}: {waited.stderr.strip()}",
                       serial=handset.serial, step=step, command=waited.args, exit_code=waited.returncode)
    sent = run_adb(handset, ["sideload", str(package)], timeout=handset.timeouts.flash, step=step)
    if sent.returncode != 0:
        _back_to_android(handset, step)
        last = (sent.stderr.strip().splitlines() or sent.stdout.strip().rsplit("\r", 1)[-1:] or ["no output"])[-1]
        raise SideloadError(f"recovery did not install {package.name} (adb sideload exit {sent.returncode}: "
                            f"{last.strip()}); recovery's reason is on the phone's screen (a package for another "
                            "product, an older build, or one its keys do not verify)", serial=handset.serial,
                            step=step, command=sent.args, stdout=sent.stdout, stderr=sent.stderr,
                            exit_code=sent.returncode)
    seconds = handset.wait_for_boot(step=step)
    handset.expect_build(build, step=step)
    return seconds


def _back_to_android(handset: Handset, step: str) -> None:
    """After a refused package a user recovery reboots by itself; a debuggable one shows the error
    and waits in its menu (with adbd): reboot it, so the handset is left running its old build."""
    try:
        state = handset.adb.client.wait_for_state(handset.adb.adb_serial, {DeviceState.RECOVERY, DeviceState.DEVICE},
                                                  handset.timeouts.reboot_drop, label=handset.serial, step=step)
        if state == DeviceState.RECOVERY:
            handset.adb.reboot("system", timeout=handset.timeouts.reboot_drop)
        handset.wait_for_boot(step=step)
    except HandsetError as exc:  # the sideload's own error is the one to report
        log.warning("[%s] %s: not back in Android after the refused package: %s", handset.serial, step, exc)


def wipe_data(handset: Handset) -> float:
    """Factory reset through recovery (see the module's doc); returns the boot time after the wipe."""
    step = "factory reset (recovery)"
    _root(handset, step)
    result = handset.shell(FACTORY_RESET, timeout=handset.timeouts.shell)
    if not result.ok or "Broadcast completed" not in result.stdout:
        raise AdbError(f"FACTORY_RESET broadcast refused (exit {result.exit_code}): "
                       f"{(result.stderr or result.stdout).strip().splitlines()[:1]}", serial=handset.serial,
                       step=step, command=FACTORY_RESET, stdout=result.stdout, stderr=result.stderr,
                       exit_code=result.exit_code)
    handset.adb.wait_for_disconnect(handset.timeouts.reboot_drop, step=step)
    return handset.wait_for_boot(step=step)
