"""Leases from a labgrid coordinator, for labs spread over several hosts (`pip install devicelab[labgrid]`).

Each handset is a labgrid place named after its inventory id and tagged with its model, SKU,
region and SIM. A lease is a labgrid reservation by those tags (waited for with a bound), then a
lock on the allocated place; release unlocks and cancels the reservation. The coordinator hands
a place to one reservation at a time, so two runs never get the same handset.

It drives `labgrid-client` (argv, timeouts, exit codes checked) rather than labgrid's async gRPC
API: the CLI is labgrid's stable interface and keeps the coordinator's event loop out of ours.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devicelab.errors import DevicelabError, LeaseTimeoutError
from devicelab.model.inventory import AdbServerSpec, HandsetEntry

log = logging.getLogger(__name__)

TAG_KEY = re.compile(r"^[a-z][a-z0-9_]+$")
_ALLOCATION = re.compile(r"allocations:\s*\n\s*main:\s*(\S+)")
_ACQUIRED = re.compile(r"^Acquired resource '[^']*' \((\S+)\):\n((?:  .*\n?)+)", re.MULTILINE)


def acquired_resources(shown: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """From `labgrid-client show` of a locked place: resource name -> (exporter, params)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for path, block in _ACQUIRED.findall(shown):
        parts = path.split("/")  # exporter/group/class/name
        exporter, name = parts[0], parts[-1]
        try:
            data = ast.literal_eval(block.strip())
        except (ValueError, SyntaxError):
            continue
        if isinstance(data, dict):
            found[name] = (exporter, dict(data.get("params") or {}))
    return found


class LabgridError(DevicelabError):
    """labgrid-client failed or the coordinator could not be reached."""


def client_executable() -> str:
    """labgrid-client next to this Python (the venv), else on PATH."""
    beside = Path(sys.executable).with_name("labgrid-client")
    found = str(beside) if beside.exists() else shutil.which("labgrid-client")
    if found is None:
        raise LabgridError("labgrid-client not found: install the extra with `pip install devicelab[labgrid]`")
    return found


def place_tags(entry: HandsetEntry) -> dict[str, str]:
    """The labgrid tags of a handset: what `HandsetEntry.matches` compares, so filters mean the same."""
    tags = {"model": entry.model, "sku": entry.sku, "region": entry.region, "sim": entry.sim or "none",
            **entry.tags}
    return {k: v for k, v in tags.items() if v and TAG_KEY.match(k)}


@dataclass
class LabgridClient:
    """`labgrid-client` against one coordinator; every call bounded."""

    coordinator: str  # HOST:PORT
    executable: str = field(default_factory=client_executable)
    call_timeout: float = 30.0

    def run(self, *args: str, place: str | None = None, token: str | None = None,
            timeout: float | None = None) -> str:
        argv = [self.executable, "-x", self.coordinator, *(["-p", place] if place else []), *args]
        env = {**os.environ, "LG_COORDINATOR": self.coordinator}
        env.pop("LG_PLACE", None)
        if token:
            env["LG_TOKEN"] = token
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=env,
                                  timeout=self.call_timeout if timeout is None else timeout, check=False)
        except FileNotFoundError as exc:
            raise LabgridError(f"cannot run {argv[0]}: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise LabgridError(f"labgrid-client {' '.join(args)} failed (exit {done.returncode}): "
                               f"{detail[-1] if detail else 'no output'}")
        return done.stdout

    def places(self) -> set[str]:
        return {line.split()[0] for line in self.run("places").splitlines() if line.strip()}


@dataclass
class LabgridLease:
    entry: HandsetEntry
    client: LabgridClient
    token: str
    place: str
    locked: bool = True
    released: bool = False
    #: the exporter (USB host) whose resources the place locked
    host: str = ""

    def release(self) -> None:
        """Unlock the place and cancel the reservation; both are tried, failures are logged, not raised."""
        if self.released:
            return
        self.released = True
        steps = [("release",)] if self.locked else []
        for args in (*steps, ("cancel-reservation", self.token)):
            try:
                self.client.run(*args, place=f"+{self.token}", token=self.token)
            except (LabgridError, subprocess.TimeoutExpired) as exc:
                log.warning("releasing %s: %s", self.place, exc)

    def __enter__(self) -> LabgridLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class LabgridAllocator:
    """Leases the handsets of one inventory through a labgrid coordinator shared by every run."""

    def __init__(self, coordinator: str, entries: Sequence[HandsetEntry], *, client: LabgridClient | None = None,
                 adb_servers: Mapping[str, AdbServerSpec] | None = None):
        self.client = client or LabgridClient(coordinator)
        self.entries = {e.id: e for e in entries}
        #: the inventory's adb servers: a place's `adb` resource must name the same one
        self.adb_servers = dict(adb_servers or {})

    def publish(self, exporter: str | None = None) -> None:
        """Create a place per handset (if missing) and set its tags; safe to repeat.

        A new place matches the resources that the exporter of the handset's USB host (or
        `exporter`, when given) publishes under a group named after the handset id
        (devicelab.lab.labgrid_export), so locking the place locks them (adb, fastboot, power...).
        """
        existing = self.client.places()
        for entry in self.entries.values():
            if entry.id not in existing:
                self.client.run("create", place=entry.id)
                self.client.run("add-match", f"{exporter or entry.usb_host}/{entry.id}/*", place=entry.id)
            self.client.run("set-tags", *(f"{k}={v}" for k, v in place_tags(entry).items()), place=entry.id)

    def acquire(self, wanted: dict[str, str], *, timeout: float, holder: str = "") -> LabgridLease:
        candidates = [e for e in self.entries.values() if e.matches(wanted)]
        if not candidates:
            want = ", ".join(f"{k}={v}" for k, v in wanted.items()) or "any"
            have = "; ".join(e.describe() for e in self.entries.values()) or "none"
            raise LeaseTimeoutError(f"no handset in the labgrid lab matches {want}. The lab has: {have}")
        bad = [k for k in wanted if not TAG_KEY.match(k)]
        if bad:
            raise LeaseTimeoutError(f"labgrid cannot filter on {', '.join(bad)}: tag names are [a-z][a-z0-9_]+")
        # An empty filter would reserve any place in the coordinator, not only ours: filter on the model.
        filters = wanted or {"model": candidates[0].model}
        end = time.monotonic() + timeout
        out = self.client.run("reserve", "--shell", *(f"{k}={v}" for k, v in filters.items()))
        token = out.strip().removeprefix("export LG_TOKEN=")
        lease = LabgridLease(candidates[0], self.client, token, "", locked=False)
        try:
            lease.place = self._wait(token, end, filters)
            entry = self.entries.get(lease.place)
            if entry is None:
                raise LabgridError(f"labgrid allocated place {lease.place!r}, which is not a handset of this lab")
            lease.entry = entry
            lease.locked = True  # before the call: a lock that timed out on our side may still have happened
            self.client.run("acquire", place=f"+{token}", token=token)
            if holder:
                self.client.run("set-comment", holder, place=f"+{token}", token=token)
            self._check_place(lease, self.client.run("show", place=f"+{token}", token=token))
        except BaseException:
            lease.release()
            raise
        return lease

    def _check_place(self, lease: LabgridLease, shown: str) -> None:
        """The locked place's resources say where the handset is plugged in: its USB host, and the
        adb server there, which must be the one the inventory gives the handset."""
        resources = acquired_resources(shown)
        hosts = {exporter for exporter, _ in resources.values()}
        lease.host = next(iter(hosts)) if len(hosts) == 1 else ""
        adb = resources.get("adb")
        spec = self.adb_servers.get(lease.entry.adb.server)
        if adb is None or spec is None:
            return
        published = (str(adb[1].get("address")), int(adb[1].get("port", 0)))
        if published != (spec.host, spec.port):
            raise LabgridError(f"labgrid place {lease.place} says {lease.entry.id}'s adb server is "
                               f"{published[0]}:{published[1]} (exporter {adb[0]}); the inventory says "
                               f"{spec.host}:{spec.port} ({lease.entry.adb.server})")

    def _wait(self, token: str, end: float, filters: dict[str, str]) -> str:
        try:
            out = self.client.run("wait", token, timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            want = ", ".join(f"{k}={v}" for k, v in filters.items())
            raise LeaseTimeoutError(f"no labgrid place with {want} became free in time "
                                    f"(reservation {token} cancelled)") from None
        found = _ALLOCATION.findall(out)
        if not found:
            raise LabgridError(f"labgrid reservation {token} ended without a place: {out.strip()[-200:]}")
        return str(found[-1])
