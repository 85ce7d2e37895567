"""A virtual lab: N virtual handsets on one event loop, registered with adb servers the way USB
handsets appear in them. Several adb servers make several "USB hosts": each server sees only the
handsets plugged into its host, as on a rack with one adb server per host."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import shutil
import subprocess
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from devicelab.model.builds import Build, load_build
from devicelab.model.sims import SimProfile, load_sim
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.identity import HardwareIdentity

if TYPE_CHECKING:
    from devicelab.virtual.net.internet import VirtualInternet

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_BUILD = "nokia7plus-00WW_3_22C_SP05"


@dataclass(frozen=True)
class HandsetInfo:
    """How to reach one virtual handset: what `devicelab virtual up --json` prints."""

    adb_serial: str
    fastboot: str
    serialno: str
    model: str
    fingerprint: str
    device: str
    sku: str
    region: str
    imei: tuple[str, str]
    wifi_mac: str
    bt_mac: str
    #: the USB host it is plugged into, and that host's adb server
    usb_host: str = "local"
    adb_server_port: int = 5037

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


class VirtualLab:
    """Runs virtual handsets on a private event loop in a daemon thread.

    Use as a context manager; `call` runs a function or coroutine on the lab's loop and
    returns its result (the handsets are not thread-safe, the loop serialises access).
    """

    def __init__(
        self,
        count: int = 1,
        *,
        build: str | Build = DEFAULT_BUILD,
        sim: str | SimProfile | None = None,
        adb_server_port: int | Sequence[int] = 5037,
        host: str = "127.0.0.1",
        clock_scale: float = 1.0,
        boot_seconds: float | None = None,
        seed: str = "lab",
        received_log: Path | None = None,
    ) -> None:
        if count < 1:
            raise ValueError("a lab needs at least one handset")
        self.count = count
        self.build = load_build(build) if isinstance(build, str) else build
        self.sim = load_sim(sim) if isinstance(sim, str) else sim
        ports = (adb_server_port,) if isinstance(adb_server_port, int) else tuple(adb_server_port)
        if not ports or len(ports) > count:
            raise ValueError("a lab needs one to `count` adb servers (USB hosts)")
        #: one adb server per USB host; handsets are spread over the hosts in blocks
        self.adb_server_ports = ports
        self.adb_server_port = ports[0]
        self.host = host
        self.clock_scale = clock_scale
        self.boot_seconds = boot_seconds
        self.seed = seed
        #: where the lab's internet logs every request it answered (None: nowhere)
        self.received_log = received_log
        self.handsets: list[VirtualHandset] = []
        #: the lab's own internet (hosts, DNS, root CA); the capture routes its proxy with it
        self.internet: VirtualInternet | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._owned_adb_servers: list[int] = []

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> VirtualLab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        from devicelab.adb.server import AdbServer
        from devicelab.virtual.adbd.registration import ensure_adb_server

        for port in self.adb_server_ports:
            # an adb server we start is ours to stop; one that was already running is not
            if not AdbServer(port=port).alive():
                self._owned_adb_servers.append(port)
            ensure_adb_server(port, timeout=timeout)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="virtual-lab", daemon=True)
        self._thread.start()
        try:
            self.call(self._start_handsets(), timeout=timeout)
        except BaseException:
            self.stop()
            raise

    async def _start_handsets(self) -> None:
        from devicelab.virtual.adbd.daemon import AdbDaemon
        from devicelab.virtual.fastbootd import FastbootTarget
        from devicelab.virtual.net.internet import VirtualInternet
        from devicelab.virtual.net.stack import HandsetNetwork

        self.internet = internet = VirtualInternet((self.build,), received_log=self.received_log)
        await internet.start()
        for index in range(self.count):
            handset = VirtualHandset(
                f"{self.seed}-{index}",
                HardwareIdentity.generate(f"{self.seed}-{index}"),
                sim=self.sim,
                clock_scale=self.clock_scale,
                boot_seconds=self.boot_seconds,
            )
            handset.install(self.build)
            handset.network = HandsetNetwork(handset, internet)
            handset.adbd = adbd = AdbDaemon(handset, host=self.host, adb_server_port=self.port_of(index))
            handset.fastbootd = fb = FastbootTarget(handset, host=self.host)
            await adbd.bind()
            await fb.bind()
            self.handsets.append(handset)
        await asyncio.gather(*(h.power_on() for h in self.handsets))

    def stop(self, timeout: float = 15.0) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            if loop.is_running():
                self.call(self._stop_handsets(), timeout=timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout)
            if not loop.is_running():
                loop.close()
            self._loop = None
            for port in self._owned_adb_servers:
                kill_adb_server(port)
            self._owned_adb_servers.clear()

    async def _stop_handsets(self) -> None:
        async def stop(handset: VirtualHandset) -> None:
            await handset.power_off()
            for service in (handset.adbd, handset.fastbootd):
                close = getattr(service, "close", None)
                if close is not None:
                    await close()

        # each adbd waits for the adb server to forget it: do it for all handsets at once
        await asyncio.gather(*(stop(h) for h in self.handsets))
        if self.internet is not None:
            await self.internet.stop()
        # whatever still runs (an app's request in flight, a connection being served) ends here, as
        # asyncio.run ends it: a task left pending when the loop closes keeps its socket open
        rest = asyncio.all_tasks() - {asyncio.current_task()}
        for task in rest:
            task.cancel()
        if rest:
            await asyncio.wait(rest, timeout=5.0)

    def host_of(self, index: int) -> int:
        """Which USB host handset `index` is plugged into (blocks: 0,0,1,1 for four on two)."""
        return index * len(self.adb_server_ports) // self.count

    def port_of(self, index: int) -> int:
        return self.adb_server_ports[self.host_of(index)]

    def host_name(self, index: int) -> str:
        """The host's name: local for a one-host lab; host-1, host-2, ... for a rack."""
        return "local" if len(self.adb_server_ports) == 1 else f"host-{self.host_of(index) + 1}"

    # -- access from other threads -------------------------------------------------------
    def call(self, work: Awaitable[T] | Callable[[], T], timeout: float = 30.0) -> T:
        """Run a coroutine, or a plain function, on the lab's loop and return its result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the virtual lab is not running")
        if asyncio.iscoroutine(work):
            future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(work, loop)
        else:
            assert callable(work)

            async def run() -> T:
                return work()

            future = asyncio.run_coroutine_threadsafe(run(), loop)
        return future.result(timeout)

    def wait_booted(self, timeout: float = 60.0) -> None:
        async def all_booted() -> None:
            await asyncio.gather(*(h.wait_for_state(BootState.BOOTED, timeout) for h in self.handsets))

        self.call(all_booted(), timeout=timeout + 1)

    def info(self) -> list[HandsetInfo]:
        def collect() -> list[HandsetInfo]:
            result = []
            for index, h in enumerate(self.handsets):
                adbd: Any = h.adbd
                fb: Any = h.fastbootd
                build = h.system.build if h.system is not None else h.installed_build()
                hw = h.hardware
                result.append(
                    HandsetInfo(
                        adb_serial=adbd.serial,
                        fastboot=f"tcp:{self.host}:{fb.port}",
                        serialno=hw.serialno,
                        model=build.model,
                        fingerprint=build.fingerprint,
                        device=build.bootloader.product,
                        sku=build.sku,
                        region=build.region,
                        imei=(hw.imei1, hw.imei2),
                        wifi_mac=hw.wifi_mac,
                        bt_mac=hw.bt_mac,
                        usb_host=self.host_name(index),
                        adb_server_port=self.port_of(index),
                    )
                )
            return result

        return self.call(collect)


def kill_adb_server(port: int, timeout: float = 10.0) -> None:
    adb = shutil.which("adb")
    if adb is None:
        return
    try:
        subprocess.run([adb, "-P", str(port), "kill-server"], capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        log.warning("adb kill-server on port %d timed out", port)
