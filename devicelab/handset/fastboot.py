"""fastboot access through the real `fastboot` binary.

fastboot waits forever for an absent target, prints to stderr, and exits 0 for `getvar` even on
FAIL: every call here has a timeout, streams its progress to the log, checks the exit code, and
treats `FAILED (remote: ...)` as a failure whatever the exit code says.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from devicelab.errors import FastbootError, FastbootTimeoutError, ToolMissingError

log = logging.getLogger(__name__)

#: anywhere in a line: fastboot prints it after a progress message on the same line
FAILED = re.compile(r"FAILED \((?P<why>.*)\)\s*$", re.MULTILINE)
GETVAR = re.compile(r"^(?P<name>[\w.:-]+):\s*(?P<value>.*)$")


def fastboot_binary() -> str:
    path = shutil.which("fastboot")
    if path is None:
        raise ToolMissingError("fastboot", "install it with `apt-get install fastboot` (make setup does)")
    return path


@dataclass(frozen=True)
class FastbootResult:
    argv: list[str]
    output: str  # stdout and stderr, in order
    exit_code: int
    seconds: float


class Fastboot:
    """One fastboot target: `tcp:HOST:PORT` for network targets, or a USB serial."""

    def __init__(self, address: str, label: str = "") -> None:
        self.address = address
        self.label = label or address

    def __repr__(self) -> str:
        return f"Fastboot({self.address})"

    def run(self, *args: str, timeout: float, step: str = "", stall: float | None = None) -> FastbootResult:
        """Run `fastboot -s ADDRESS ARGS`, streaming lines to the log; raise on any failure.

        `stall`: give up when fastboot prints nothing for that long. fastboot 29 never gives up on a
        link that dropped mid-session (over TCP it spins on the closed socket), so a long flash
        would otherwise wait out its whole `timeout` before a retry."""
        argv = [fastboot_binary(), "-s", self.address, *args]
        step = step or f"fastboot {' '.join(args)}"
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines: list[str] = []
        progress = [start]  # when fastboot last printed anything (a partial line counts)

        def pump() -> None:
            assert proc.stdout is not None
            pending = b""
            with proc.stdout:
                while chunk := os.read(proc.stdout.fileno(), 65536):  # partial lines count as progress
                    progress[0] = time.monotonic()
                    *complete, pending = (pending + chunk).split(b"\n")
                    for raw in complete:
                        line = raw.decode(errors="replace").rstrip("\r")
                        lines.append(line)
                        log.info("[%s] %s", self.label, line)
            if pending:
                lines.append(pending.decode(errors="replace").rstrip("\r"))

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        end = start + timeout
        code: int | None = None
        while code is None:
            reader.join(0.2)  # returns as soon as fastboot closes its output: no polling delay
            now = time.monotonic()
            if not reader.is_alive():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = proc.wait(max(0.1, end - now))
            stalled = stall is not None and now - progress[0] > stall
            if code is None and (now > end or stalled):
                proc.kill()
                proc.wait(5)
                reader.join(1)
                why = (f"no progress for {stall:g} s after {lines[-1].strip()!r} (the link to the handset dropped?)"
                       if stalled and lines else f"no answer after {timeout:.0f} s (is the handset in fastboot mode?)")
                raise FastbootTimeoutError(why, serial=self.label, step=step, command=argv,
                                           stderr="\n".join(lines))
        reader.join(5)
        output = "\n".join(lines)
        failed = FAILED.search(output)
        if code != 0 or failed:
            why = failed.group("why") if failed else (lines[-1] if lines else "no output")
            raise FastbootError(f"{why} (exit {code})", serial=self.label, step=step, command=argv,
                                stderr=output, exit_code=code)
        return FastbootResult(argv, output, code, time.monotonic() - start)

    def getvar(self, name: str, *, timeout: float = 10.0) -> str:
        result = self.run("getvar", name, timeout=timeout, step=f"getvar {name}")
        for line in result.output.splitlines():
            match = GETVAR.match(line)
            if match and match.group("name") == name:
                return match.group("value").strip()
        raise FastbootError(f"getvar {name}: no value in the output", serial=self.label, step=f"getvar {name}",
                            command=result.argv, stderr=result.output, exit_code=result.exit_code)

    def update(self, image_zip: Path, *, wipe: bool = False, timeout: float = 600.0,
               stall: float | None = None, reboot: bool = True) -> FastbootResult:
        """`fastboot update`: checks android-info.txt, flashes every image, reboots (unless not `reboot`)."""
        args = ["-w", "update", str(image_zip)] if wipe else ["update", str(image_zip)]
        if not reboot:
            args.insert(0, "--skip-reboot")
        return self.run(*args, timeout=timeout, step=f"update {image_zip.name}", stall=stall)

    def flash(self, partition: str, image: Path, *, timeout: float = 600.0) -> FastbootResult:
        return self.run("flash", partition, str(image), timeout=timeout, step=f"flash {partition}")

    def erase(self, partition: str, *, timeout: float = 120.0) -> FastbootResult:
        return self.run("erase", partition, timeout=timeout, step=f"erase {partition}")

    def set_active(self, slot: str, *, timeout: float = 30.0) -> FastbootResult:
        return self.run("set_active", slot, timeout=timeout)

    def reboot(self, *, timeout: float = 30.0) -> FastbootResult:
        return self.run("reboot", timeout=timeout)

    def reboot_bootloader(self, *, timeout: float = 30.0) -> FastbootResult:
        return self.run("reboot-bootloader", timeout=timeout)

    def wait_for_target(self, timeout: float, *, poll: float = 0.2) -> None:
        """Wait until the target answers `getvar product` (a handset still rebooting does not)."""
        end = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < end:
            try:
                self.getvar("product", timeout=min(5.0, max(end - time.monotonic(), 0.5)))
                return
            except FastbootError as exc:
                last = exc
                time.sleep(poll)
        raise FastbootTimeoutError(f"not in fastboot mode after {timeout:.0f} s ({last})", serial=self.label,
                                   step="wait-for-fastboot")
