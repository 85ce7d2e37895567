"""One handset's view of the virtual internet: it plays the build's app traffic on the
device clock while the system runs, and gives apps (and the browser) an HTTP client.

Plugged into the lab's gateway (`attach`), the handset has a network of its own: its apps use
kernel sockets in its namespace (devicelab.virtual.net.kernel), and the system asks the network
time server at boot, as Android's NetworkTimeUpdateService does (UDP 123, unseen by a proxy).

The handset calls four hooks: `system_started` (a new AndroidSystem exists: the virtual
internet's root goes into the system CA store), `boot_completed`, `shutdown` (reboot, power
off) and `sim_changed`. Unlock and screen-on come from the system's input events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devicelab.model.builds import AppTraffic, TriggerKind
from devicelab.virtual import consent
from devicelab.virtual.net import apps, trust
from devicelab.virtual.net.facts import DeviceFacts
from devicelab.virtual.net.httpclient import Caller, DeviceHttpClient
from devicelab.virtual.net.kernel import KernelNetwork, Link, NameNotFound
from devicelab.virtual.net.scheduler import DeviceScheduler
from devicelab.virtual.net.sockets import SocketTable
from devicelab.virtual.net.triggers import KeyguardWatcher

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem
    from devicelab.virtual.handset import VirtualHandset
    from devicelab.virtual.net.internet import VirtualInternet

log = logging.getLogger(__name__)

#: one firing may take this long (host seconds) before it is abandoned
RUN_TIMEOUT = 45.0
#: AOSP's config_ntpServer, asked at boot and then daily (SNTP, mode 3)
NTP_SERVER = "time.android.com"
NTP_TIMEOUT = 5.0
#: processes of components that are not an app's main process
PROCESS_NAMES = {"com.google.android.gms": "com.google.android.gms.persistent", "android": "system_server"}


@dataclass(frozen=True)
class AppRun:
    """One firing of an app: what fired it and how it ended (`sent`, `failed`, `skipped: ...`)."""

    name: str
    reason: str
    device_time: float
    outcome: str


class HandsetNetwork:
    def __init__(self, handset: VirtualHandset, internet: VirtualInternet) -> None:
        self.handset = handset
        self.internet = internet
        self.runs: deque[AppRun] = deque(maxlen=5_000)
        self.scheduler = DeviceScheduler(handset.clock)
        self.system: AndroidSystem | None = None
        self.sockets: SocketTable | None = None
        self.trust: trust.TrustStore | None = None
        self._watcher: KeyguardWatcher | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._booted = False
        self._fingerprint_changed = False
        # app state that lives on /data: survives reboots, not a wipe (checked by generation)
        self._generation = -1
        self._last_fingerprint: str | None = None
        self._successes: dict[str, set[str]] = {}
        self._memory: dict[str, dict[str, object]] = {}
        #: the handset's own network behind the lab's gateway (None: the in-process path)
        self.kernel: KernelNetwork | None = None

    # -- the network it is plugged into ----------------------------------------------------
    def attach(self, link: Link | None) -> None:
        """Plug into a gateway link (None: unplug, back to the in-process path)."""
        if self.kernel is not None:
            self.kernel.close()
        self.kernel = KernelNetwork(link) if link is not None else None

    # -- hooks the handset calls ---------------------------------------------------------
    def system_started(self, system: AndroidSystem) -> None:
        """A new system is up (not yet booted): ship the lab root in its CA store, note an OTA."""
        self.shutdown()
        generation = self.handset.storage.userdata_generation
        if generation != self._generation:
            self._generation, self._last_fingerprint = generation, None
            self._successes, self._memory = {}, {}
        fingerprint = system.build.fingerprint
        self._fingerprint_changed = self._last_fingerprint not in (None, fingerprint)
        if self._fingerprint_changed:
            self._successes.clear()  # activation clients register again after an update
        self._last_fingerprint = fingerprint
        trust.install_system_ca(system.fs, self.internet.root_ca_pem())
        self.system = system
        self.sockets = SocketTable(system, self.handset.clock)
        self.trust = trust.TrustStore(system.fs)

    def boot_completed(self) -> None:
        system = self.system
        if system is None:
            return
        self._booted = True
        if self.kernel is not None and online(system):
            self.spawn(self._ntp(self.kernel))
        self._watcher = KeyguardWatcher(system, lambda: self.event("screen_on"), lambda: self.event("unlock"))
        self.event("boot")
        if self._fingerprint_changed:
            self.event("fingerprint_changed")
        for app in system.build.traffic:
            for trigger in app.triggers:
                if trigger.event == "periodic" and trigger.every is not None and trigger.count is not None:
                    first = trigger.delay or trigger.every
                    self.scheduler.every(first, trigger.every, trigger.count, self._periodic(app))

    def sim_changed(self) -> None:
        self.event("sim_changed")

    def shutdown(self) -> None:
        """The system goes down: alarms, app runs and open sockets end with it."""
        self._booted = False
        self.scheduler.cancel_all()
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        for task in list(self._tasks):
            task.cancel()
        if self.sockets is not None:
            self.sockets.shutdown()
        self.system = None

    # -- triggers ------------------------------------------------------------------------
    def event(self, kind: TriggerKind) -> None:
        """Schedule every app whose trigger is `kind` (after its delay)."""
        system = self.system
        if system is None or not self._booted:
            return
        for app in system.build.traffic:
            for trigger in app.triggers:
                if trigger.event == kind:
                    self.scheduler.after(trigger.delay, self._alarm(app, kind))

    def _alarm(self, app: AppTraffic, reason: str) -> Callable[[], None]:
        def ring() -> None:
            self.fire(app, reason)

        return ring

    def _periodic(self, app: AppTraffic) -> Callable[[int], None]:
        def ring(n: int) -> None:
            self.fire(app, f"periodic #{n}")

        return ring

    def fire(self, app: AppTraffic, reason: str) -> asyncio.Task[bool] | None:
        """Run one app now (in the background); None when it is not allowed to run."""
        system = self.system
        if system is None:
            return None
        skip = self._skip_reason(system, app)
        if skip:
            self.runs.append(AppRun(app.name, reason, system.clock.now(), f"skipped: {skip}"))
            return None
        task = asyncio.get_running_loop().create_task(self._run(system, app, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _skip_reason(self, system: AndroidSystem, app: AppTraffic) -> str:
        if app.package is not None and (system.installed(app.package) is None
                                        or system.package_state(app.package) != "enabled"):
            return f"package {app.package} is not enabled"
        sim = system.radio.sim
        cond = app.when
        if cond.sim_required and sim is None:
            return "no SIM"
        if cond.sim_mccmnc and (sim is None or sim.mccmnc not in cond.sim_mccmnc):
            return "SIM network not targeted"
        missing = [name for name in cond.consent if not consent.granted(system, name)]
        if missing:
            return "no consent: " + ", ".join(missing)
        if self._success_key(system, app) in self._successes.get(app.name, set()):
            return "already registered"
        return ""

    @staticmethod
    def _success_key(system: AndroidSystem, app: AppTraffic) -> str:
        if app.remember_success == "data":
            return "data"
        if app.remember_success == "iccid":
            return "iccid:" + (system.radio.sim.iccid if system.radio.sim else "")
        return ""

    async def _run(self, system: AndroidSystem, app: AppTraffic, reason: str) -> bool:
        client = self.client_for(system, app)
        pid = self._process(system, app)

        def write(tag: str, message: str, level: str) -> None:
            system.logcat.write(tag, message, level=level, pid=pid)

        memory = self._memory.setdefault(app.name, {})
        ctx = apps.AppContext(app, DeviceFacts.of(system), client, write, memory)
        outcome = "failed"
        try:
            ok = await asyncio.wait_for(apps.BEHAVIOURS[app.payload](ctx), RUN_TIMEOUT)
            outcome = "sent" if ok else "failed"
            if ok and app.remember_success != "none":
                self._successes.setdefault(app.name, set()).add(self._success_key(system, app))
            return ok
        except TimeoutError:
            write("System.err", f"{app.name}: gave up after {RUN_TIMEOUT:g} s", "W")
            return False
        except Exception:  # an app's bug is logged, never a crash of the handset
            log.exception("%s: app %s failed", self.handset.name, app.name)
            return False
        finally:
            self.runs.append(AppRun(app.name, reason, system.clock.now(), outcome))

    # -- what apps get -------------------------------------------------------------------
    def client_for(self, system: AndroidSystem, app: AppTraffic) -> DeviceHttpClient:
        uid = app.uid
        if uid is None and app.package is not None:
            pkg = system.package(app.package)
            uid = pkg.uid if pkg is not None else 1000
        pins = frozenset({self.internet.spki_pin(app.host)}) if app.pinned else frozenset()
        return self.client(system, Caller(app.package or app.process or "?", uid or 0, java=app.package is not None),
                           honour_proxy=app.proxy == "system", pins=pins, sni=app.sni, host_header=app.host_header,
                           websocket=app.transport == "websocket")

    def client(self, system: AndroidSystem, caller: Caller, *, honour_proxy: bool = True,
               pins: frozenset[str] = frozenset(), sni: str | None = None,
               host_header: str | None = None, websocket: bool = False) -> DeviceHttpClient:
        assert self.sockets is not None, "the system is not running"
        assert self.trust is not None
        return DeviceHttpClient(
            caller=caller, resolver=self.internet.resolver, settings=lambda: system.settings("global"),
            trust=self.trust, sockets=self.sockets, online=lambda: online(system), honour_proxy=honour_proxy,
            pins=pins, direct=self._direct, sni=sni, host_header=host_header, websocket=websocket,
            kernel=self.kernel, device_port=self.handset.local_ports.get,
        )

    def _direct(self, local_port: int, server_port: int) -> Callable[[], None]:
        return self.internet.direct_connection(local_port, server_port, self.handset.name)

    async def _ntp(self, kernel: KernelNetwork) -> bool:
        """One SNTP request (48 bytes, LI=0 VN=3 mode 3), as the framework sends it after boot."""
        system = self.system
        try:
            address = await kernel.resolve(NTP_SERVER)
            reply = await kernel.datagram((address, 123), b"\x1b" + b"\x00" * 47, NTP_TIMEOUT)
        except (NameNotFound, OSError) as exc:
            reply, address = b"", f"({exc})"
        if system is not None:
            outcome = "updated" if len(reply) >= 48 else "no answer"
            system.logcat.write("NetworkTimeUpdateService", f"NTP {NTP_SERVER}/{address}: {outcome}", level="D",
                                pid=system.processes.ensure("system_server", 1000).pid)
        return len(reply) >= 48

    def spawn(self, work: Coroutine[Any, Any, object]) -> asyncio.Task[object]:
        """Run background work (a page load) that shutdown cancels."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    def _process(system: AndroidSystem, app: AppTraffic) -> int:
        if app.package is None:
            name = app.process or "daemon"
            running = system.processes.by_name(name)
            return running[0].pid if running else system.processes.spawn(name, app.uid or 0, ppid=1, native=True).pid
        pkg = system.package(app.package)
        return system.processes.ensure(PROCESS_NAMES.get(app.package, app.package), pkg.uid if pkg else 1000).pid


def online(system: AndroidSystem) -> bool:
    """Wi-Fi joined, or mobile data on a SIM outside airplane mode (the setup wizard's view too)."""
    radio, settings = system.radio, system.settings("global")
    if radio.wifi_connected and radio.wifi_enabled:
        return True
    return (radio.sim is not None and radio.mobile_data and settings.get("mobile_data", "1") != "0"
            and settings.get("airplane_mode_on", "0") != "1")
