"""Leases: one test at a time per handset, across xdist workers and concurrent runs.

The allocator is an interface; the local one uses file locks (the kernel drops a dead
process's lock, so a crashed worker never strands a handset). A labgrid allocator for
multi-host labs plugs in behind the same interface.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

from devicelab.errors import LeaseTimeoutError
from devicelab.model.inventory import HandsetEntry


class Lease(Protocol):
    entry: HandsetEntry

    def release(self) -> None: ...


class Allocator(Protocol):
    def acquire(self, wanted: dict[str, str], *, timeout: float, holder: str = "") -> Lease: ...


def lease_dir(lab_name: str) -> Path:
    base = Path(os.environ.get("DEVICELAB_STATE_DIR") or Path(tempfile.gettempdir()) / f"devicelab-{os.getuid()}")
    path = base / "leases" / lab_name
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


@dataclass
class FileLease:
    entry: HandsetEntry
    lock: FileLock
    info_path: Path
    released: bool = field(default=False)

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        self.info_path.unlink(missing_ok=True)
        self.lock.release()

    def __enter__(self) -> FileLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class LocalAllocator:
    """Leases handsets of one lab on this host with a lock file per handset."""

    def __init__(self, lab_name: str, entries: Sequence[HandsetEntry], *, poll: float = 0.1) -> None:
        self.lab_name = lab_name
        self.entries = list(entries)
        self.poll = poll
        self.dir = lease_dir(lab_name)

    def acquire(self, wanted: dict[str, str], *, timeout: float, holder: str = "") -> FileLease:
        candidates = [e for e in self.entries if e.matches(wanted)]
        if not candidates:
            want = ", ".join(f"{k}={v}" for k, v in wanted.items()) or "any"
            have = "; ".join(e.describe() for e in self.entries) or "none"
            raise LeaseTimeoutError(f"no handset in lab {self.lab_name!r} matches {want}. The lab has: {have}")
        end = time.monotonic() + timeout
        while True:
            for entry in candidates:
                lock = FileLock(self.dir / f"{entry.id}.lock")
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    continue
                info = self.dir / f"{entry.id}.holder"
                info.write_text(json.dumps({"pid": os.getpid(), "holder": holder, "since": time.time()}))
                return FileLease(entry, lock, info)
            if time.monotonic() >= end:
                busy = "; ".join(f"{e.id}: {self.holder_of(e) or 'busy'}" for e in candidates)
                raise LeaseTimeoutError(f"no matching handset became free in {timeout:.0f} s ({busy})")
            time.sleep(self.poll)

    def holder_of(self, entry: HandsetEntry) -> str:
        try:
            info = json.loads((self.dir / f"{entry.id}.holder").read_text())
        except (OSError, ValueError):
            return ""
        return f"held by pid {info.get('pid')} {info.get('holder', '')}".strip()
