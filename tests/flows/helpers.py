"""Helpers for the flow tests: a private one-handset virtual lab as a harness `Handset`, and a
fake UI driver that replays recorded hierarchies."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devicelab.adb import AdbClient, AdbDevice, AdbServer
from devicelab.handset import Handset
from devicelab.handset.fastboot import Fastboot
from devicelab.handset.hierarchy import Snapshot, parse
from devicelab.model.inventory import AdbAddress, HandsetEntry, Timeouts
from devicelab.virtual.lab import VirtualLab

DUMPS = Path(__file__).parent / "data"
TIMEOUTS = Timeouts(boot=20, shell=10, fastboot=15, flash=60, reboot_drop=10, lease=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def handset_of(lab: VirtualLab, index: int = 0) -> Handset:
    """The harness's view of one handset of a private virtual lab."""
    info = lab.info()[index]
    entry = HandsetEntry(id=f"private-{index}", serialno=info.serialno,
                         adb=AdbAddress(server="local", serial=info.adb_serial), fastboot=info.fastboot,
                         model=info.device)
    adb = AdbDevice(AdbClient(AdbServer(port=lab.adb_server_port)), info.adb_serial, label=info.serialno)
    return Handset(entry, adb, Fastboot(info.fastboot, label=info.serialno), TIMEOUTS)


@contextlib.contextmanager
def private_lab(build: str = "nokia7plus-00WW_3_22C_SP05", sim: str | None = "telenor-no",
                seed: str = "flows", clock_scale: float = 60.0) -> Iterator[tuple[VirtualLab, Handset]]:
    """One virtual handset on a private adb server, for tests that break it on purpose."""
    port = free_port()
    try:
        with VirtualLab(1, build=build, sim=sim, adb_server_port=port, boot_seconds=0.1, seed=seed,
                        clock_scale=clock_scale) as lab:
            lab.wait_booted(10)
            handset = handset_of(lab)
            handset.adb.wait_for_device(10)
            try:
                yield lab, handset
            finally:
                handset.ui().close()
    finally:
        subprocess.run(["adb", "-P", str(port), "kill-server"], capture_output=True, timeout=15, check=False)


@dataclass
class Shown:
    """One recorded screen and how it went away: after a press, or by itself."""

    xml: str
    left: str = "press"


def recording(name: str) -> list[Shown]:
    """A first boot recorded by tests.flows.record."""
    with gzip.open(DUMPS / f"{name}.json.gz", "rt", encoding="utf-8") as stream:
        return [Shown(e["xml"], e["left"] or "press") for e in json.load(stream)]


def real_dump(name: str) -> Shown:
    """A hierarchy dumped on a real handset (tests/flows/data/real)."""
    return Shown((DUMPS / "real" / f"{name}.xml").read_text(encoding="utf-8"))


@dataclass
class ReplayDriver:
    """A UI driver over recorded screens: a press shows the next one; a screen that went away
    by itself does so at the next read. No device."""

    shown: list[Shown]
    serial: str = "REPLAY0001"
    position: int = 0
    clicks: list[tuple[int, int, str]] = field(default_factory=list)
    swipes: int = 0
    reads: int = 0
    #: presses that leave the screen as it is (dropped taps)
    ignore_presses: int = 0

    def snapshot(self, step: str = "") -> Snapshot:
        self.reads += 1
        current = self.shown[self.position]
        if current.left == "self":
            self._next()
        return parse(current.xml)

    def _next(self) -> None:
        self.position = min(self.position + 1, len(self.shown) - 1)

    def _press(self) -> None:
        if self.ignore_presses:
            self.ignore_presses -= 1
        else:
            self._next()

    def click(self, x: int, y: int, step: str) -> None:
        self.clicks.append((x, y, step))
        self._press()

    def swipe(self, fx: int, fy: int, tx: int, ty: int, step: str, duration: float = 0.1) -> None:
        self.swipes += 1
        self._press()

    def screenshot_png(self) -> bytes:
        return b"\x89PNG\r\n\x1a\n fake"
