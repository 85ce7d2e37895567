"""One handset as the adb server sees it: shell, files, reboots — each with a deadline."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ppadb.connection import Connection

from devicelab.adb import shellv2, sync
from devicelab.adb.client import AdbClient, DeviceState
from devicelab.adb.wire import (
    Deadline,
    WireError,
    WireTimeout,
    open_connection,
    read_exact,
    read_length_prefixed,
    read_some,
    request,
    send_all,
)
from devicelab.errors import AdbError, AdbTimeoutError

log = logging.getLogger(__name__)

#: a new value on every boot of a Linux kernel: tells a reboot from a dropped cable
BOOT_ID = "/proc/sys/kernel/random/boot_id"

RebootTarget = Literal["system", "bootloader", "recovery"]


@dataclass(frozen=True)
class ShellResult:
    """What a shell command printed and how it ended."""

    command: str
    stdout: str
    stderr: str
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class AdbDevice:
    """A handset reached through an adb server by its adb serial.

    `label` names the handset in errors (its `ro.serialno` once known: the adb serial of a TCP
    handset is an address, not the phone).
    """

    def __init__(self, client: AdbClient, adb_serial: str, label: str = "") -> None:
        self.client = client
        self.adb_serial = adb_serial
        self.label = label or adb_serial

    def __repr__(self) -> str:
        return f"AdbDevice({self.adb_serial} via {self.client.server.host}:{self.client.server.port})"

    # -- shell ---------------------------------------------------------------------------
    def shell(self, command: str, *, timeout: float = 30.0, check: bool = False, stdin: bytes = b"",
              step: str = "") -> ShellResult:
        """Run `command` through shell v2: stdout, stderr and exit code kept apart."""
        deadline = Deadline.after(timeout)
        step = step or f"shell {command[:60]}"
        conn = self._open(f"shell,v2,raw:{command}", deadline, step)
        out, err = bytearray(), bytearray()
        code: int | None = None
        reader = shellv2.PacketReader()
        try:
            if stdin:
                send_all(conn, shellv2.packet(shellv2.STDIN, stdin), deadline)
            send_all(conn, shellv2.packet(shellv2.CLOSE_STDIN), deadline)
            while code is None:
                chunk = read_some(conn, deadline)
                if not chunk:
                    break
                for kind, data in reader.feed(chunk):
                    if kind == shellv2.STDOUT:
                        out += data
                    elif kind == shellv2.STDERR:
                        err += data
                    elif kind == shellv2.EXIT and data:
                        code = data[0]
        except WireTimeout:
            raise AdbTimeoutError(f"no exit after {timeout:.0f} s", serial=self.label, step=step,
                                  command=command, stdout=out.decode(errors="replace"),
                                  stderr=err.decode(errors="replace")) from None
        except WireError as exc:
            raise AdbError(f"connection lost: {exc}", serial=self.label, step=step, command=command,
                           stdout=out.decode(errors="replace")) from None
        finally:
            conn.close()
        if code is None:
            raise AdbError("shell ended without an exit code (handset gone?)", serial=self.label, step=step,
                           command=command, stdout=out.decode(errors="replace"))
        result = ShellResult(command, out.decode(errors="replace"), err.decode(errors="replace"), code)
        if check and not result.ok:
            raise AdbError(f"exit {code}: {result.stderr.strip() or result.stdout.strip()}", serial=self.label,
                           step=step, command=command, stdout=result.stdout, stderr=result.stderr, exit_code=code)
        return result

    def exec_out(self, command: str, *, timeout: float = 30.0, step: str = "") -> bytes:
        """Raw stdout of `exec:` (binary-safe: screenshots); no exit code is available there."""
        deadline = Deadline.after(timeout)
        step = step or f"exec {command[:60]}"
        conn = self._open(f"exec:{command}", deadline, step)
        out = bytearray()
        try:
            while chunk := read_some(conn, deadline):
                out += chunk
        except WireTimeout:
            raise AdbTimeoutError(f"no end of output after {timeout:.0f} s", serial=self.label, step=step,
                                  command=command) from None
        except WireError as exc:
            raise AdbError(f"connection lost: {exc}", serial=self.label, step=step, command=command) from None
        finally:
            conn.close()
        return bytes(out)

    def getprop(self, name: str, *, timeout: float = 10.0) -> str:
        return self.shell(f"getprop {shlex.quote(name)}", timeout=timeout, check=True).stdout.strip()

    def _open(self, service: str, deadline: Deadline, step: str) -> Connection:
        try:
            conn = open_connection(self.client.server.host, self.client.server.port, deadline)
        except WireError as exc:
            raise AdbError(str(exc), serial=self.label, step=step, command=service) from None
        try:
            request(conn, f"host:transport:{self.adb_serial}", deadline)
            request(conn, service, deadline)
        except WireTimeout:
            conn.close()
            raise AdbTimeoutError("adb did not answer", serial=self.label, step=step, command=service) from None
        except WireError as exc:
            conn.close()
            raise AdbError(str(exc), serial=self.label, step=step, command=service) from None
        return conn

    # -- files ---------------------------------------------------------------------------
    def push(self, local: Path, remote: str, *, timeout: float = 120.0, verify: bool = True) -> None:
        """Copy a file to the handset (parent folders are created); `verify` compares MD5s."""
        step = f"push {local.name} -> {remote}"
        if not local.is_file():
            raise AdbError(f"{local} is not a file", serial=self.label, step=step)
        self._sync(lambda conn, deadline: sync.push(conn, local, remote, deadline), step, timeout)
        if verify:
            self._verify(local, remote, step, timeout)

    def pull(self, remote: str, local: Path, *, timeout: float = 120.0, verify: bool = True) -> None:
        """Copy a file from the handset; a missing file is an error and leaves no file behind."""
        step = f"pull {remote}"
        self._sync(lambda conn, deadline: sync.pull(conn, remote, local, deadline), step, timeout)
        if verify:
            self._verify(local, remote, step, timeout)

    def _sync(self, transfer: Callable[[Connection, Deadline], None], step: str, timeout: float) -> None:
        deadline = Deadline.after(timeout)
        conn = self._open("sync:", deadline, step)
        try:
            transfer(conn, deadline)
        except WireTimeout:
            raise AdbTimeoutError(f"transfer not done after {timeout:.0f} s", serial=self.label, step=step) from None
        except WireError as exc:
            raise AdbError(f"transfer failed: {exc}", serial=self.label, step=step) from None
        except OSError as exc:
            raise AdbError(f"local file: {exc}", serial=self.label, step=step) from None
        finally:
            conn.close()

    def _verify(self, local: Path, remote: str, step: str, timeout: float) -> None:
        want = hashlib.md5(local.read_bytes()).hexdigest()  # noqa: S324 - integrity, not security
        res = self.shell(f"md5sum {shlex.quote(remote)}", timeout=timeout, step=f"{step} (verify)")
        got = res.stdout.split()[0] if res.ok and res.stdout.split() else ""
        if got != want:
            raise AdbError(f"checksum mismatch: local {want}, handset {got or res.stderr.strip()}",
                           serial=self.label, step=step)

    # -- state ---------------------------------------------------------------------------
    def state(self) -> DeviceState:
        return self.client.state_of(self.adb_serial)

    def wait_for_device(self, timeout: float, step: str = "wait-for-device") -> None:
        self.client.wait_for_state(self.adb_serial, {DeviceState.DEVICE}, timeout, label=self.label, step=step)

    def wait_for_disconnect(self, timeout: float, step: str = "wait-for-disconnect") -> None:
        gone = {DeviceState.GONE, DeviceState.OFFLINE}
        self.client.wait_for_state(self.adb_serial, gone, timeout, label=self.label, step=step, poll=0.02)

    def root(self, *, timeout: float = 30.0) -> bool:
        """`adb root`: restart adbd as root. False on production (user) builds, which refuse."""
        step = "adb root"
        deadline = Deadline.after(timeout)
        conn = self._open("root:", deadline, step)
        reply = bytearray()
        try:
            while chunk := read_some(conn, deadline):
                reply += chunk
        except WireError:
            pass  # adbd restarts and drops the connection
        finally:
            conn.close()
        text = reply.decode(errors="replace").strip()
        if "cannot run as root" in text:
            return False
        if "already running as root" not in text:
            # adbd restarts: wait for the old instance to go before waiting for the new one
            with contextlib.suppress(AdbTimeoutError):
                self.wait_for_disconnect(min(5.0, max(deadline.at - time.monotonic(), 0.1)), step=step)
        self.wait_for_device(max(deadline.at - time.monotonic(), 0.1), step=step)
        return True

    # -- adb reverse (a port on the handset that leads to one on the host) ------------------------
    def reverse(self, device_port: int, host_port: int, *, timeout: float = 10.0) -> None:
        """`adb reverse tcp:DEVICE tcp:HOST`: the handset's loopback port leads to the host's, over
        USB. Through the adb server, which must see the rule: Debian's aborts on a reverse
        connection no rule it saw allows."""
        self._reverse_request(f"forward:tcp:{device_port};tcp:{host_port}", f"adb reverse tcp:{device_port}", timeout)

    def remove_reverse(self, device_port: int, *, timeout: float = 10.0) -> None:
        self._reverse_request(f"killforward:tcp:{device_port}", f"adb reverse --remove tcp:{device_port}", timeout)

    def _reverse_request(self, request_text: str, step: str, timeout: float) -> None:
        deadline = Deadline.after(timeout)
        service = f"reverse:{request_text}"
        conn = self._open(service, deadline, step)
        try:
            status = read_exact(conn, 4, deadline)
            if status != b"OKAY":
                detail = read_length_prefixed(conn, deadline).decode(errors="replace") if status == b"FAIL" else ""
                raise AdbError(f"{service} refused: {detail or status!r}", serial=self.label, step=step,
                               command=service)
        except WireTimeout:
            raise AdbTimeoutError("adb did not answer", serial=self.label, step=step, command=service) from None
        except WireError as exc:
            raise AdbError(f"{service}: {exc}", serial=self.label, step=step, command=service) from None
        finally:
            conn.close()

    def reboot(self, target: RebootTarget = "system", *, timeout: float = 30.0) -> None:
        """Ask for a reboot and wait until the handset has really dropped off adb.

        `adb reboot` returns before the handset goes (the bug Mobly fixed); a caller that polls
        for the device at once would see the old, dying instance.
        """
        service = "reboot:" if target == "system" else f"reboot:{target}"
        step = f"reboot {target}"
        deadline = Deadline.after(timeout)
        try:
            conn = self._open(service, deadline, step)
        except AdbTimeoutError:
            raise
        except AdbError as exc:
            # a handset that goes down at once can drop the link before the server relays its OKAY:
            # the server answers "closed" for a reboot that is happening. Gone soon after means it is
            if not str(exc).endswith("closed"):
                raise
            try:
                self.wait_for_disconnect(max(deadline.at - time.monotonic(), 0.1), step=step)
            except AdbError:
                raise exc from None
            return
        try:
            while read_some(conn, deadline):
                pass
        except WireError:
            pass  # the handset drops the connection: that is the expected end
        finally:
            conn.close()
        self.wait_for_disconnect(max(deadline.at - time.monotonic(), 0.1), step=step)
