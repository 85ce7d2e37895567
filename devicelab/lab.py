"""`Lab`: an inventory brought to life — its adb servers, its provider, its allocator — and the
one place a run gets handsets from."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from devicelab.adb import AdbClient, AdbDevice, AdbServer
from devicelab.adb.server import adb_binary
from devicelab.capture.config import UpstreamRouting
from devicelab.fastboot import Fastboot, fastboot_binary
from devicelab.handset import Handset
from devicelab.inventory import AdbServerSpec, HandsetEntry, Inventory, Timeouts, load_inventory
from devicelab.lease import Allocator, Lease, LocalAllocator
from devicelab.providers import Provider, make_provider

if TYPE_CHECKING:
    from devicelab.activation import SimSwitcher

log = logging.getLogger(__name__)


class Lab:
    def __init__(self, inventory: Inventory, *, source: str = "") -> None:
        self.inventory = inventory
        self.source = source or inventory.name
        self.entries: list[HandsetEntry] = list(inventory.handsets)
        self.servers: dict[str, AdbServer] = {}
        self.allocator: Allocator | None = None
        #: how SIMs get into handsets' slots, when the provider can do it (devicelab.activation)
        self.sim_switcher: SimSwitcher | None = None
        #: where the capture proxy sends the handsets' traffic (default: real DNS)
        self.upstream = UpstreamRouting()
        self._provider: Provider | None = None

    @classmethod
    def from_file(cls, path: Path | str | None = None) -> Lab:
        inventory = load_inventory(path)
        return cls(inventory, source=str(path or "the embedded virtual lab"))

    @property
    def name(self) -> str:
        return self.inventory.name

    @property
    def timeouts(self) -> Timeouts:
        return self.inventory.timeouts

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> None:
        adb_binary()  # a missing tool is one clear message, before anything starts
        fastboot_binary()
        specs = dict(self.inventory.adb_servers)
        provider = self.inventory.provider
        if provider is not None:
            self._provider = make_provider(provider.kind, self.name, provider.options, self.source)
            provided = self._provider.start(timeout)
            specs["local"] = provided.adb_server
            self.entries = [*self.entries, *provided.handsets]
            self.sim_switcher = provided.sim_switcher
            if provided.upstream is not None:
                self.upstream = provided.upstream
        try:
            for name, spec in specs.items():
                server = self._server(spec)
                server.start()
                self.servers[name] = server
        except BaseException:
            self.stop()
            raise
        self.allocator = self._allocator()

    def _allocator(self) -> Allocator:
        spec = self.inventory.allocator
        if spec.kind == "labgrid":
            from devicelab.labgrid_allocator import LabgridAllocator  # an optional extra

            allocator = LabgridAllocator(spec.coordinator, self.entries)
            allocator.publish(spec.exporter)
            return allocator
        return LocalAllocator(self.name, self.entries)

    @staticmethod
    def _server(spec: AdbServerSpec) -> AdbServer:
        return AdbServer(spec.host, spec.port, managed=spec.managed, listen_all=spec.listen_all)

    def stop(self) -> None:
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                server.stop()
        self.servers.clear()
        if self._provider is not None:
            provider, self._provider = self._provider, None
            provider.stop()

    def handset(self, entry: HandsetEntry) -> Handset:
        server = self.servers[entry.adb.server]
        adb = AdbDevice(AdbClient(server), entry.adb.serial, label=entry.serialno)
        handset = Handset(entry, adb, Fastboot(entry.fastboot, label=entry.serialno), self.inventory.timeouts)
        handset.sim_switcher = self.sim_switcher
        return handset

    @contextlib.contextmanager
    def lease(self, wanted: dict[str, str] | None = None, *, timeout: float | None = None,
              holder: str = "") -> Iterator[Handset]:
        """Lease a handset matching `wanted` tags; released on every exit path."""
        if self.allocator is None:
            raise RuntimeError("the lab is not started")
        lease: Lease = self.allocator.acquire(wanted or {}, timeout=self.inventory.timeouts.lease
                                              if timeout is None else timeout, holder=holder)
        try:
            yield self.handset(lease.entry)
        finally:
            lease.release()
