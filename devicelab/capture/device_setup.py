"""The handset side of a capture: the proxy setting and the run's CA in the system store.

Apps targeting API 24+ ignore user CAs, so the CA goes into the system store: as root (adb root,
userdebug/eng builds) under `<subject_hash_old>.0` in /system/etc/security/cacerts, and on API 34+
also in the Conscrypt APEX store that Android 14 reads instead. A read-only system folder gets a
tmpfs overlay holding its certificates plus ours; a read-only APEX store gets a copy plus ours
bound over it in adb's, zygote's and the apps' mount namespaces (the usual techniques). A user
build cannot take it: that is a coverage note, not an error — TLS stays opaque and the canary
fails. `teardown()` always clears the proxy setting and removes the CA, also after a failed test.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from devicelab.adb import ShellResult
from devicelab.capture.ca import RunCA, lab_ca_cert, lab_ca_dir, subject_hash_old
from devicelab.errors import CaptureError, DevicelabError

log = logging.getLogger(__name__)

SYSTEM_CACERTS = "/system/etc/security/cacerts"
APEX_CACERTS = "/apex/com.android.conscrypt/cacerts"
APEX_SDK = 34
STAGING = "/data/local/tmp/devicelab-ca"
SELINUX_LABEL = "u:object_r:system_file:s0"
NOT_INSTALLABLE = "CA not installable: TLS will not be decrypted"
#: `settings get` prints these when no proxy is set (`:0` is the "cleared at once" value)
_NO_PROXY = {"", "null", ":0"}


class AdbLike(Protocol):
    def root(self, *, timeout: float = ...) -> bool: ...
    def reverse(self, device_port: int, host_port: int, *, timeout: float = ...) -> None: ...
    def remove_reverse(self, device_port: int, *, timeout: float = ...) -> None: ...
    def push(self, local: Path, remote: str, *, timeout: float = ..., verify: bool = ...) -> None: ...


class HandsetLike(Protocol):
    """What the capture needs from a handset (devicelab.handset.handset.Handset has it)."""

    @property
    def serial(self) -> str: ...
    @property
    def adb(self) -> AdbLike: ...
    def shell(self, command: str, *, timeout: float | None = None, check: bool = False) -> ShellResult: ...
    def getprop(self, name: str) -> str: ...


@dataclass(frozen=True)
class CaInstall:
    """Where the CA went (to undo it), or why it could not go anywhere."""

    installed: bool
    files: tuple[str, ...] = ()
    overlays: tuple[str, ...] = ()  # folders we mounted a tmpfs over
    apex_bound: bool = False  # a copy of the APEX store bound over it (this, zygote's and apps' namespaces)
    note: str = ""


def install_script(folder: str, name: str, keep: str, *, overlay: bool = True) -> str:
    """Shell text: put STAGING/name into `folder`; if it is read-only and `overlay`, mount a tmpfs copy
    of it first. Prints `direct` or `overlay`; exit 3: no such folder, 4: could not write. Written with
    `&&`, `||` and `{ }` only (no `if`): the smallest shells (and the virtual lab's) run it as is."""
    d, f, src, k = (shlex.quote(x) for x in (folder, name, f"{STAGING}/{name}", keep))
    fallback = (f"mkdir -p {k} && cp {d}/* {k}/ && mount -t tmpfs tmpfs {d} && cp {k}/* {d}/ && cp {src} {d}/{f} "
                f"|| {{ echo 'cannot write to {folder}' >&2; exit 4; }}; "
                f"chcon -R {SELINUX_LABEL} {d} 2>/dev/null; how=overlay"
                if overlay else f"echo '{folder} is read-only' >&2; exit 4")
    return "; ".join([
        f"[ -d {d} ] || {{ echo 'no folder {folder}' >&2; exit 3; }}",
        f"how=direct; cp {src} {d}/{f} 2>/dev/null || {{ {fallback}; }}",
        f"chmod 644 {d}/{f} || exit 4",
        f"chown root:root {d}/{f} 2>/dev/null; chcon {SELINUX_LABEL} {d}/{f} 2>/dev/null",
        'echo "$how"',
    ])


def _in_namespaces(command: str) -> str:
    """Shell text: run `command` in zygote's mount namespaces and those of the apps it forked (best effort)."""
    return ("for z in $(pidof zygote zygote64); do "
            f"nsenter --mount=/proc/$z/ns/mnt -- {command} || exit 6; "
            f"for p in $(ps -o PID= -P $z); do nsenter --mount=/proc/$p/ns/mnt -- {command} 2>/dev/null; done; "
            "done")


def apex_bind_script(name: str) -> str:
    """Shell text (Android 14+, read-only APEX): a copy of the APEX store plus our CA, bound over it in
    this namespace and in zygote's and its apps' (a mount in adb's namespace alone is not seen by apps)."""
    k, src, a = shlex.quote(f"{STAGING}/apex"), shlex.quote(f"{STAGING}/{name}"), shlex.quote(APEX_CACERTS)
    return "; ".join([
        f"mkdir -p {k} && cp {a}/* {k}/ && cp {src} {k}/ && chmod 644 {k}/* && chmod 755 {k} || exit 4",
        f"chcon -R {SELINUX_LABEL} {k} 2>/dev/null",
        f"mount --bind {k} {a} || exit 5",
        _in_namespaces(f"/system/bin/mount --bind {k} {a}"),
        "echo bound",
    ])


_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def baked_lab_ca(handset: HandsetLike, *, timeout: float = 60.0) -> tuple[bool, str]:
    """Whether the lab's own CA is baked into the system store (a lab build), read as any app may
    read it; and, when a file of its name holds another certificate, why it is not trusted."""
    cert = x509.load_pem_x509_certificate(lab_ca_cert())
    name = f"{subject_hash_old(cert)}.0"
    result = handset.shell(f"cat {SYSTEM_CACERTS}/{name}", timeout=timeout)
    if not result.ok:
        return False, ""
    der = cert.public_bytes(serialization.Encoding.DER)
    for block in _PEM.findall(result.stdout.encode()):
        try:
            if x509.load_pem_x509_certificate(block).public_bytes(serialization.Encoding.DER) == der:
                return True, ""
        except ValueError:
            continue
    return False, (f"{SYSTEM_CACERTS}/{name} is not this lab's CA ({lab_ca_dir()}): a lab build made for "
                   "another lab; its TLS is not read")


def install_ca(handset: HandsetLike, ca: RunCA, *, timeout: float = 60.0, su: bool = False) -> CaInstall:
    """Install the run's CA in the system store; CaInstall(installed=False, note=...) where impossible.

    `su`: root through userdebug's `su` instead of `adb root`, whose adbd restart drops the link and
    every `adb reverse` rule with it: while the proxy is reached over one, apps that dial it in
    that gap are refused (after a reboot, when the overlay must go back, they all start talking)."""
    build_type = handset.getprop("ro.build.type")
    if build_type == "user":
        return CaInstall(False, note=f"{NOT_INSTALLABLE} (user build: no root)")
    if su:
        probe = handset.shell("su 0 id -u", timeout=timeout)
        if probe.stdout.strip() != "0":
            return CaInstall(False, note=f"{NOT_INSTALLABLE} (su refused on a {build_type or 'unknown'} build)")
        handset = _AsRoot(handset)
    elif not handset.adb.root(timeout=timeout):
        return CaInstall(False, note=f"{NOT_INSTALLABLE} (adb root refused on a {build_type or 'unknown'} build)")
    sdk = _int(handset.getprop("ro.build.version.sdk"))
    name = ca.android_name
    handset.adb.push(ca.cert_file, f"{STAGING}/{name}", timeout=timeout)
    done = CaInstall(True)
    steps = [(SYSTEM_CACERTS, True)] + ([(APEX_CACERTS, False)] if sdk >= APEX_SDK else [])
    for index, (folder, overlay) in enumerate(steps):
        script = install_script(folder, name, f"{STAGING}/keep{index}", overlay=overlay)
        try:
            result = handset.shell(script, timeout=timeout)
            if not result.ok and folder == APEX_CACERTS and result.exit_code == 4:
                bound = handset.shell(apex_bind_script(name), timeout=timeout)
                done = CaInstall(True, done.files, done.overlays, apex_bound=True)
                result = bound
        except DevicelabError:
            _undo(handset, done, timeout)
            raise
        if not result.ok:
            _undo(handset, done, timeout)
            detail = (result.stderr or result.stdout).strip()[:300]
            return CaInstall(False, note=f"{NOT_INSTALLABLE} ({folder}: exit {result.exit_code}: {detail})")
        if result.stdout.strip().endswith("bound"):
            continue
        overlays = done.overlays + ((folder,) if result.stdout.strip().endswith("overlay") else ())
        done = CaInstall(True, (*done.files, f"{folder}/{name}"), overlays, done.apex_bound)
    notes = []
    if done.overlays:
        notes.append(f"CA on tmpfs overlays of {', '.join(done.overlays)} (gone after a reboot)")
    if done.apex_bound:
        notes.append("CA bound over the APEX store: apps started before it may not trust it (the canary will tell)")
    return CaInstall(True, done.files, done.overlays, done.apex_bound, "; ".join(notes))


def remove_ca(handset: HandsetLike, install: CaInstall, *, timeout: float = 60.0) -> None:
    """Undo install_ca; CaptureError if the CA could not be removed (the handset must not keep it)."""
    if not install.installed:
        return
    # a reboot in the window restarts adbd unprivileged (`adb root` does not survive it): root again
    if not handset.adb.root(timeout=timeout):
        raise CaptureError("could not remove the run's CA: adb root refused; the CA is still in the store",
                           serial=handset.serial)
    problems = _undo(handset, install, timeout)
    if problems:
        raise CaptureError(f"could not remove the run's CA: {'; '.join(problems)}", serial=handset.serial)


class _AsRoot:
    """The handset, its shell commands run through `su 0` (adbd stays as it is)."""

    def __init__(self, handset: HandsetLike) -> None:
        self._handset = handset
        self.serial = handset.serial
        self.adb = handset.adb

    def shell(self, command: str, *, timeout: float | None = None, check: bool = False) -> ShellResult:
        return self._handset.shell(f"su 0 sh -c {shlex.quote(command)}", timeout=timeout, check=check)

    def getprop(self, name: str) -> str:
        return self._handset.getprop(name)


def _undo(handset: HandsetLike, install: CaInstall, timeout: float) -> list[str]:
    problems: list[str] = []
    on_overlay = [path for path in install.files if path.rpartition("/")[0] in install.overlays]
    commands = [f"rm -f {shlex.quote(path)}" for path in install.files if path not in on_overlay]
    if install.apex_bound:
        commands.append(_in_namespaces(f"/system/bin/umount {APEX_CACERTS}") + f"; umount {APEX_CACERTS}")
    commands += [f"umount {shlex.quote(folder)}" for folder in install.overlays]
    commands.append(f"rm -rf {STAGING}")
    for command in commands:
        try:
            result = handset.shell(command, timeout=timeout)
        except DevicelabError as exc:
            problems.append(f"`{command[:80]}`: {exc}")
            continue
        if not result.ok:
            detail = (result.stderr or result.stdout).strip()[:200]
            problems.append(f"`{command[:80]}`: exit {result.exit_code}: {detail}")
    if install.files:
        result = handset.shell(" && ".join(f"[ ! -e {shlex.quote(path)} ]" for path in install.files), timeout=timeout)
        if not result.ok:
            problems.append("the CA is still in the store")
    return problems


# --- the proxy setting ----------------------------------------------------------------------------


def set_proxy(handset: HandsetLike, host: str, port: int, *, timeout: float = 30.0) -> None:
    """Point the handset's global HTTP proxy at the capture and check it took."""
    value = f"{host}:{port}"
    for key, setting in (("http_proxy", value), ("global_http_proxy_host", host),
                         ("global_http_proxy_port", str(port))):
        _settings(handset, f"put global {key} {shlex.quote(setting)}", timeout)
    got = _settings(handset, "get global http_proxy", timeout).stdout.strip()
    if got != value:
        raise CaptureError(f"the proxy setting did not take: http_proxy is {got!r}, wanted {value!r}",
                           serial=handset.serial)


def clear_proxy(handset: HandsetLike, *, timeout: float = 30.0) -> None:
    """Remove every proxy setting; `:0` first because a bare delete waits for a reboot on some versions."""
    _settings(handset, "put global http_proxy :0", timeout)
    for key in ("http_proxy", "global_http_proxy_host", "global_http_proxy_port",
                "global_http_proxy_exclusion_list", "global_proxy_pac_url"):
        _settings(handset, f"delete global {key}", timeout)
    got = _settings(handset, "get global http_proxy", timeout).stdout.strip()
    if got not in _NO_PROXY:
        raise CaptureError(f"the proxy setting is still {got!r} after clearing it", serial=handset.serial)


def _settings(handset: HandsetLike, args: str, timeout: float) -> ShellResult:
    result = handset.shell(f"settings {args}", timeout=timeout)
    if not result.ok:
        raise CaptureError(f"`settings {args}` failed (exit {result.exit_code}): "
                           f"{(result.stderr or result.stdout).strip()[:200]}", serial=handset.serial)
    return result


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return 0


# --- both, undone on every exit path --------------------------------------------------------------


class DeviceSetup:
    """Proxy setting + CA on one handset; `teardown()` undoes both whatever happened before."""

    def __init__(self, handset: HandsetLike, *, timeout: float = 60.0) -> None:
        self.handset = handset
        self.timeout = timeout
        self.ca: CaInstall | None = None
        self.proxy_set = False
        self.reversed_port: int | None = None  # an `adb reverse` rule for the proxy, to remove

    def install_ca(self, ca: RunCA) -> CaInstall:
        self.ca = CaInstall(False)  # teardown tries to remove even a half-installed CA
        # over `adb reverse` an adbd restart (adb root) would cut the proxy off: root through su then
        self.ca = install_ca(self.handset, ca, timeout=self.timeout, su=self.reversed_port is not None)
        return self.ca

    def set_proxy(self, host: str, port: int, *, reverse: bool = False) -> None:
        if reverse and _loopback(host):
            # the proxy listens on the host's loopback: a phone on USB reaches it only through
            # `adb reverse` (its own 127.0.0.1 is itself), the rule set up through the adb server
            self.reversed_port = port
            self.handset.adb.reverse(port, port, timeout=self.timeout)
        self.proxy_set = True  # teardown clears even if the check below fails
        set_proxy(self.handset, host, port, timeout=self.timeout)

    def restore_reverse(self) -> bool:
        """Set the `adb reverse` rule again: it lives in adbd, so a reboot or an adbd restart (adb
        root) took it. False when there is none to restore."""
        if self.reversed_port is None:
            return False
        self.handset.adb.reverse(self.reversed_port, self.reversed_port, timeout=self.timeout)
        return True

    def teardown(self) -> None:
        """Clear the proxy, then remove the CA; both are tried, the first failure is raised after."""
        errors: list[DevicelabError] = []
        if self.proxy_set:
            try:
                clear_proxy(self.handset, timeout=self.timeout)
                self.proxy_set = False
            except DevicelabError as exc:
                log.error("[%s] %s", self.handset.serial, exc)
                errors.append(exc)
        if self.reversed_port is not None:
            try:
                self.handset.adb.remove_reverse(self.reversed_port, timeout=self.timeout)
                self.reversed_port = None
            except DevicelabError as exc:  # the rule dies with the link anyway (reboot, unplug)
                log.warning("[%s] %s", self.handset.serial, exc)
        if self.ca is not None:
            try:
                remove_ca(self.handset, self.ca, timeout=self.timeout)
                self.ca = None
            except DevicelabError as exc:
                log.error("[%s] %s", self.handset.serial, exc)
                errors.append(exc)
        if errors:
            raise errors[0]
