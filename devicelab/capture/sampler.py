"""`SocketSampler`: reads the handset's socket table during the capture window and logs what is new.

Every `interval` seconds (and once more at stop) it reads /proc/net/{tcp,tcp6,udp,udp6} through
adb and appends the sockets not seen before to the evidence log, with the uid -> package map
from `pm list packages -U`; the evidence reader turns them into coverage gaps and app names. It
also answers the recorder's live question "which app owns this proxy connection?".

A sample that fails (adb dropped, a shell timed out) leaves the sampler blind until the next
complete one: a connection that opened and closed meanwhile was never checked. A blind stretch
longer than GAP_INTERVALS intervals becomes a coverage gap naming its time span (the verdict is
then inconclusive). One across a reboot (the boot id changed: the gate's own reboot trigger) is a
note: the system that could open sockets was down for most of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from devicelab.adb import BOOT_ID, ShellResult
from devicelab.capture.coverage import PROC_NET_FILES, ProxyView, Socket, parse_packages, parse_proc_net, uid_name
from devicelab.capture.records import Record
from devicelab.errors import DevicelabError

log = logging.getLogger(__name__)

#: a blind stretch (failed samples) longer than this many intervals is a coverage gap
GAP_INTERVALS = 4


class Shell(Protocol):
    def shell(self, command: str, *, timeout: float | None = None, check: bool = False) -> ShellResult: ...


class RecordSink(Protocol):
    def write(self, record: Record) -> bool: ...


class SocketSampler:
    """Polls one handset's socket table in a daemon thread; every wait is bounded."""

    def __init__(self, handset: Shell, log_: RecordSink, view: ProxyView, *, interval: float = 2.0,
                 timeout: float = 15.0, clock: Callable[[], float] = time.time) -> None:
        self.handset = handset
        self.log = log_
        self.view = view
        self.interval = interval
        self.timeout = timeout
        self.clock = clock
        self.samples = 0
        self.failures = 0
        self.blind: list[tuple[float, float]] = []  # (from, to) of blind stretches that became gaps
        self._last_ok: float | None = None  # when the last complete sample started
        self._missed = 0  # failed samples since then
        self._boot_id = ""
        self.packages: dict[int, tuple[str, ...]] = {}
        self._seen: set[tuple[str, str, int, str, int, int, int]] = set()
        self._ports: dict[int, int] = {}  # handset port of a proxy connection -> uid
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._last_ok = self.clock()  # blind from here until the first complete sample
        self._boot_id = self._read_boot_id()
        self.read_packages()
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="devicelab-sockets", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and take a last sample (what connected at the very end counts too)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout * len(PROC_NET_FILES) + self.interval)
            self._thread = None
        self.read_packages()  # apps installed during the window
        self.sample()
        with self._lock:
            if self._missed:  # blind up to the end: the last samples all failed
                self._end_blind(self.clock(), at_stop=True)

    def resolve_app(self, peer: tuple[str, int]) -> str | None:
        """The app owning the handset's end of a proxy connection, if a sample saw it already."""
        uid = self._ports.get(peer[1])
        return None if uid is None else uid_name(uid, self.packages)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def read_packages(self) -> None:
        result = self._run("pm list packages -U")
        if result is None:
            return
        packages = parse_packages(result.stdout)
        if packages and packages != self.packages:
            self.packages = packages
            self.log.write({"kind": "packages", "ts": time.time(),
                            "uids": {str(uid): list(names) for uid, names in packages.items()}})

    def sample(self) -> None:
        """One read of the socket table; new sockets go to the log. Serialised: stop() may race the loop."""
        with self._lock:
            ts = self.clock()
            new: list[Socket] = []
            read_any = False
            complete = True
            for name in PROC_NET_FILES:
                try:
                    result = self._read(f"cat /proc/net/{name}", quiet=name.endswith("6"))
                except DevicelabError:
                    complete = False
                    continue
                if result is None:
                    continue
                read_any = True
                for sock in parse_proc_net(result.stdout, name):
                    key = (sock.proto, sock.local_ip, sock.local_port, sock.remote_ip, sock.remote_port, sock.uid,
                           sock.inode)
                    if key not in self._seen:
                        self._seen.add(key)
                        new.append(sock)
                    if self.view.is_proxy_connection(sock) and sock.uid:
                        self._ports[sock.local_port] = sock.uid
            if complete and read_any:
                if self._missed:
                    self._end_blind(ts)
                self._last_ok = ts
            else:
                self._missed += 1
            if not read_any:
                self.failures += 1
                return
            self.samples += 1
            if new:
                # the first read is the baseline: what was open before the proxy was set went around it
                # by necessity, not by design; only what opens afterwards can bypass the capture
                kind = "sockets" if self.samples > 1 else "sockets_baseline"
                self.log.write({"kind": kind, "ts": ts, "entries": [s.to_row() for s in new]})

    def _end_blind(self, until: float, *, at_stop: bool = False) -> None:
        """A blind stretch ended: a gap when it was long, a note when the handset rebooted in it."""
        since = self._last_ok if self._last_ok is not None else until
        missed, self._missed = self._missed, 0
        boot = "" if at_stop else self._read_boot_id()  # every time: a later stretch compares with this boot
        rebooted = bool(boot and self._boot_id and boot != self._boot_id)
        self._boot_id = boot or self._boot_id
        if until - since <= GAP_INTERVALS * self.interval:
            return  # a hiccup: the next sample still sees what opened meanwhile
        span = f"{_clock(since)} to {_clock(until)} UTC ({until - since:.1f} s, {missed} failed sample(s))"
        if rebooted:
            self.log.write({"kind": "note", "ts": until, "note": f"socket table not read from {span}, across a "
                            "reboot of the handset (its boot id changed)"})
            return
        self.blind.append((since, until))
        self.log.write({"kind": "gap", "ts": until, "gap": "unproxied_connection", "from": since, "to": until,
                        "detail": f"socket table not read from {span}: connections around the proxy in that time "
                                  "were not checked"})

    def _read_boot_id(self) -> str:
        result = self._run(f"cat {BOOT_ID}", quiet=True)
        return result.stdout.strip() if result is not None else ""

    def _run(self, command: str, *, quiet: bool = False) -> ShellResult | None:
        try:
            return self._read(command, quiet=quiet)
        except DevicelabError:
            return None

    def _read(self, command: str, *, quiet: bool = False) -> ShellResult | None:
        """The command's result; None when it exited non-zero; DevicelabError (noted) when adb failed."""
        try:
            result = self.handset.shell(command, timeout=self.timeout)
        except DevicelabError as exc:
            self.log.write({"kind": "note", "ts": time.time(), "note": f"socket table: `{command}` failed: {exc}"})
            raise
        if not result.ok:
            if not quiet:  # a handset without IPv6 has no tcp6/udp6: not worth a note
                detail = (result.stderr or result.stdout).strip()[:200]
                self.log.write({"kind": "note", "ts": time.time(),
                                "note": f"socket table: `{command}` exit {result.exit_code}: {detail}"})
            return None
        return result


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 10) % 10}"
