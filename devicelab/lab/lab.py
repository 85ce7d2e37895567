"""`Lab`: an inventory brought to life — its adb servers, its provider, its allocator — and the
one place a run gets handsets from."""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from devicelab.adb import AdbClient, AdbDevice, AdbServer
from devicelab.adb.server import adb_binary
from devicelab.errors import LeaseTimeoutError
from devicelab.handset import Handset
from devicelab.handset.fastboot import Fastboot, fastboot_binary
from devicelab.lab.lease import Allocator, Lease, LocalAllocator
from devicelab.lab.providers import Provider, make_provider
from devicelab.model import secret
from devicelab.model.inventory import AdbServerSpec, HandsetEntry, Inventory, Timeouts, UpstreamRouting, load_inventory

if TYPE_CHECKING:
    from devicelab.handset.network import NetworkPlug
    from devicelab.handset.sim import SimSwitcher

log = logging.getLogger(__name__)

#: how long to wait for each further handset of a multi-handset lease before giving all back
FURTHER_HANDSET_WAIT = 2.0


class Lab:
    def __init__(self, inventory: Inventory, *, source: str = "") -> None:
        self.inventory = inventory
        self.source = source or inventory.name
        self.entries: list[HandsetEntry] = list(inventory.handsets)
        self.servers: dict[str, AdbServer] = {}
        #: the adb server of each USB host, by the name handsets' `adb.server` uses
        self.adb_servers: dict[str, AdbServerSpec] = dict(inventory.adb_servers)
        self.allocator: Allocator | None = None
        #: how SIMs get into handsets' slots, when the provider can do it (devicelab.activation.triggers)
        self.sim_switcher: SimSwitcher | None = None
        self.network_plug: NetworkPlug | None = None
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

    def capacity(self) -> int | None:
        """How many handsets the lab can have, as far as it is known before it starts: the listed
        ones, plus a provider's `count` option; None when a provider does not say."""
        provider = self.inventory.provider
        if provider is None:
            return len(self.entries)
        count = provider.options.get("count")
        return len(self.entries) + count if isinstance(count, int) else None

    def start(self, timeout: float = 120.0) -> None:
        adb_binary()  # a missing tool is one clear message, before anything starts
        fastboot_binary()
        specs = dict(self.inventory.adb_servers)
        provider = self.inventory.provider
        if provider is not None:
            self._provider = make_provider(provider.kind, self.name, provider.options, self.source)
            provided = self._provider.start(timeout)
            specs.update(provided.adb_servers)
            self.entries = [*self.entries, *provided.handsets]
            self.sim_switcher = provided.sim_switcher
            self.network_plug = provided.network_plug
            if provided.upstream is not None:
                self.upstream = provided.upstream
        for entry in self.entries:  # from now on, no log line shows what the lab knows of a handset
            secret.remember(value for _, value in entry.known_identity().identifiers())
        used = {entry.adb.server for entry in self.entries}  # a server no handset names is not needed
        try:
            for name, spec in specs.items():
                if name not in used:
                    continue
                server = self._server(spec)
                server.start()
                self.servers[name] = server
                self.adb_servers[name] = spec
        except BaseException:
            self.stop()
            raise
        self.allocator = self._allocator()

    def _allocator(self) -> Allocator:
        spec = self.inventory.allocator
        if spec.kind == "labgrid":
            from devicelab.lab.labgrid_allocator import LabgridAllocator  # an optional extra

            allocator = LabgridAllocator(spec.coordinator, self.entries, adb_servers=self.adb_servers)
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
        handset.network_plug = self.network_plug
        return handset

    @contextlib.contextmanager
    def lease(self, wanted: dict[str, str] | None = None, *, timeout: float | None = None,
              holder: str = "") -> Iterator[Handset]:
        """Lease a handset matching `wanted` tags; released on every exit path."""
        with self.lease_many(1, wanted, timeout=timeout, holder=holder) as (held,):
            yield held.handset

    @contextlib.contextmanager
    def lease_many(self, count: int, wanted: dict[str, str] | None = None, *, timeout: float | None = None,
                   holder: str = "") -> Iterator[list[HeldHandset]]:
        """Lease `count` handsets matching `wanted`, all or none; every one released on every exit path.

        Holding some while waiting for the rest would deadlock two runs that each hold part of what
        the other needs: when the rest is not free soon, everything goes back and the run tries
        again after a random pause, until `timeout`.
        """
        if self.allocator is None:
            raise RuntimeError("the lab is not started")
        wanted = wanted or {}
        matching = [e for e in self.entries if e.matches(wanted)]
        if 0 < len(matching) < count:
            want = ", ".join(f"{k}={v}" for k, v in wanted.items()) or "any"
            raise LeaseTimeoutError(f"{count} handsets wanted, but lab {self.name!r} has only {len(matching)} "
                                    f"matching {want}: {'; '.join(e.describe() for e in matching)}")
        budget = self.inventory.timeouts.lease if timeout is None else timeout
        end = time.monotonic() + budget
        leases: list[Lease] = []
        try:
            while True:
                try:
                    while len(leases) < count:
                        left = max(0.0, end - time.monotonic())
                        wait = left if not leases else min(left, FURTHER_HANDSET_WAIT)
                        leases.append(self.allocator.acquire(wanted, timeout=wait, holder=holder))
                    break
                except LeaseTimeoutError:
                    if time.monotonic() >= end or not leases:
                        raise
                    log.info("%d of %d handsets free: giving them back and trying again", len(leases), count)
                    _release(leases)
                    time.sleep(min(random.uniform(0.2, 2.0), max(0.0, end - time.monotonic())))
            held = [HeldHandset(self.handset(lease.entry), datetime.now(UTC)) for lease in leases]
            try:
                yield held
            finally:
                _release(leases)
                for one in held:
                    one.released = datetime.now(UTC)
        finally:
            _release(leases)


@dataclass
class HeldHandset:
    """A handset of a multi-handset lease, and when the lease held it."""

    handset: Handset
    leased: datetime
    released: datetime | None = None


def _release(leases: list[Lease]) -> None:
    while leases:
        lease = leases.pop()
        try:
            lease.release()
        except Exception as exc:  # one stuck release must not keep the others
            log.warning("releasing %s: %s", lease.entry.id, exc)
