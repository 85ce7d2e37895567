"""A handset double for capture tests, at the shell boundary.

Shell commands run in a real `sh` with stub Android tools (tests/capture/stubs: settings, mount,
umount, nsenter, ...), over folders under a temporary root: the CA scripts really run. `am start
-d URL` makes the "browser" fetch the URL through the proxy in `settings global http_proxy`,
trusting exactly the certificates in the system store Android would read (the APEX store on API
34+, or what is bound over it). /proc/net shows the browser's connections (uid 10061) and any
extra sockets a test adds; `pm list packages -U` knows a few apps.
"""

from __future__ import annotations

import http.client
import ipaddress
import shlex
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devicelab.adb import ShellResult
from devicelab.capture import device_setup
from devicelab.model.inventory import Timeouts

STUBS = Path(__file__).parent / "stubs"
BROWSER_UID = 10061
PACKAGES = """package:com.android.chrome uid:10061
package:android uid:1000
package:com.android.settings uid:1000
package:com.qualcomm.qti.autoregistration uid:10099
package:com.android.phone uid:1001
"""
_STATES = {"ESTABLISHED": "01", "SYN_SENT": "02", "TIME_WAIT": "06", "LISTEN": "0A", "UNCONN": "07", "CONNECTED": "01"}


@dataclass(frozen=True)
class Row:
    """A socket for /proc/net: addresses as text."""

    proto: str  # tcp, tcp6, udp, udp6
    local: tuple[str, int]
    remote: tuple[str, int]
    state: str
    uid: int
    inode: int = 0


def _hex_ip(ip: str, v6: bool) -> str:
    addr = ipaddress.ip_address(ip)
    if v6 and addr.version == 4:
        addr = ipaddress.IPv6Address(f"::ffff:{ip}")
    raw = addr.packed
    return "".join(raw[i:i + 4][::-1].hex().upper() for i in range(0, len(raw), 4))


def proc_net_text(rows: list[Row], name: str) -> str:
    """The text of /proc/net/`name` holding `rows` (as the kernel prints it)."""
    v6 = name.endswith("6")
    header = ("  sl  local_address                         remote_address                        st tx_queue rx_queue "
              "tr tm->when retrnsmt   uid  timeout inode" if v6 else
              "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode")
    lines = [header]
    for sl, row in enumerate(r for r in rows if r.proto == name):
        lines.append(f"{sl:4d}: {_hex_ip(row.local[0], v6)}:{row.local[1]:04X} {_hex_ip(row.remote[0], v6)}:"
                     f"{row.remote[1]:04X} {_STATES[row.state]} 00000000:00000000 00:00000000 00000000 "
                     f"{row.uid:5d}        0 {row.inode or 50000 + sl} 1 0000000000000000 20 4 30 10 -1")
    return "\n".join(lines) + "\n"


@dataclass
class Paths:
    """The handset's folders under the test's root (device_setup's constants point here)."""

    root: Path
    system: Path
    apex: Path
    staging: Path
    settings: Path
    log: Path
    binds: Path


def patch_paths(root: Path, monkeypatch: pytest.MonkeyPatch, other_ca: bytes) -> Paths:
    paths = Paths(root, root / "system/etc/security/cacerts", root / "apex/com.android.conscrypt/cacerts",
                  root / "data/local/tmp/devicelab-ca", root / "settings", root / "log", root / "binds")
    for folder in (paths.system, paths.apex, paths.settings):
        folder.mkdir(parents=True, exist_ok=True)
    for folder in (paths.system, paths.apex):  # the stores already hold CAs
        (folder / "5ed36f99.0").write_bytes(other_ca)
    monkeypatch.setattr(device_setup, "SYSTEM_CACERTS", str(paths.system))
    monkeypatch.setattr(device_setup, "APEX_CACERTS", str(paths.apex))
    monkeypatch.setattr(device_setup, "STAGING", str(paths.staging))
    return paths


class FakeAdb:
    def __init__(self, handset: FakeHandset) -> None:
        self.handset = handset

    def root(self, *, timeout: float = 30.0) -> bool:
        self.handset.calls.append("adb root")
        return self.handset.build_type != "user"

    def reverse(self, device_port: int, host_port: int, *, timeout: float = 10.0) -> None:
        self.handset.calls.append(f"adb reverse tcp:{device_port} tcp:{host_port}")

    def remove_reverse(self, device_port: int, *, timeout: float = 10.0) -> None:
        self.handset.calls.append(f"adb reverse --remove tcp:{device_port}")

    def push(self, local: Path, remote: str, *, timeout: float = 120.0, verify: bool = True) -> None:
        target = Path(remote)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(local.read_bytes())


@dataclass
class FakeHandset:
    paths: Paths
    build_type: str = "userdebug"
    sdk: int = 28
    serial: str = "FAKE0001"
    timeouts: Timeouts = field(default_factory=lambda: Timeouts(shell=10.0))
    extra_sockets: list[Row] = field(default_factory=list)
    fail_commands: tuple[str, ...] = ()  # command prefixes that exit 1
    calls: list[str] = field(default_factory=list)
    fetched: list[tuple[str, int | str]] = field(default_factory=list)
    #: what the handset runs after each boot (devicelab.handset.Handset.after_boot)
    after_boot: list[Callable[[], None]] = field(default_factory=list)
    _browser: list[Row] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.adb = FakeAdb(self)

    def getprop(self, name: str) -> str:
        return {"ro.build.type": self.build_type, "ro.build.version.sdk": str(self.sdk)}.get(name, "")

    def shell(self, command: str, *, timeout: float | None = None, check: bool = False) -> ShellResult:
        self.calls.append(command)
        if self.fail_commands and command.startswith(self.fail_commands):
            return ShellResult(command, "", "injected failure", 1)
        if command.startswith("am start"):
            return self._am_start(command)
        if command.startswith("cat /proc/net/"):
            name = command.rpartition("/")[2]
            return ShellResult(command, proc_net_text(self._browser + self.extra_sockets, name), "", 0)
        if command == "pm list packages -U":
            return ShellResult(command, PACKAGES, "", 0)
        env = {"PATH": f"{STUBS}:/usr/bin:/bin", "FAKE_SETTINGS": str(self.paths.settings),
               "FAKE_LOG": str(self.paths.log), "FAKE_BINDS": str(self.paths.binds)}
        done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=timeout or 30)
        return ShellResult(command, done.stdout, done.stderr, done.returncode)

    def setting(self, key: str) -> str | None:
        path = self.paths.settings / key
        return path.read_text() if path.exists() else None

    def trusted_folder(self) -> Path:
        """The store a newly started app reads: APEX on 34+ (or what zygote has bound over it)."""
        store = self.paths.apex if self.sdk >= 34 else self.paths.system
        if self.paths.binds.exists():
            for line in self.paths.binds.read_text().splitlines():
                namespace, source, target = line.split(" ")
                if namespace == "610" and target == str(store):  # zygote's namespace: what new apps inherit
                    return Path(source)
        return store

    def wait_idle(self, timeout: float = 10.0) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def _am_start(self, command: str) -> ShellResult:
        argv = shlex.split(command)
        url = argv[argv.index("-d") + 1]
        thread = threading.Thread(target=self._browse, args=(url,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return ShellResult(command, f"Starting: Intent {{ act=android.intent.action.VIEW dat={url} }}\n", "", 0)

    def _browse(self, url: str) -> None:
        proxy = self.setting("http_proxy") or ""
        host, _, port = proxy.rpartition(":")
        parts = urlsplit(url)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no default CAs: only the handset's store
        for cert in sorted(self.trusted_folder().glob("*.0")):
            context.load_verify_locations(cafile=str(cert))
        conn = http.client.HTTPSConnection(host, int(port or 0), timeout=5, context=context)
        try:
            conn.set_tunnel(parts.hostname or "", parts.port or 443)
            conn.connect()
            local = conn.sock.getsockname()
            self._browser.append(Row("tcp6", ("127.0.0.1", local[1]), (host, int(port)), "ESTABLISHED", BROWSER_UID))
            conn.request("GET", parts.path or "/")
            response = conn.getresponse()
            response.read()
            self.fetched.append((url, response.status))
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            self.fetched.append((url, f"{type(exc).__name__}: {exc}"))
        finally:
            conn.close()
