"""Bounded waits over the screen: for a press to take effect, for a wait screen ("Checking for
updates…") to pass, for a screen in transition to become one the flow knows.

Every wait polls the hierarchy and ends by its own bound; none sleeps longer than `poll`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from devicelab.flows.model import WizardFlow
from devicelab.flows.recognise import Recognised, recognise
from devicelab.handset.hierarchy import Snapshot


class Driver(Protocol):
    """What a flow needs of a handset's UI (devicelab.handset.ui.HandsetUi; fakes in tests)."""

    @property
    def serial(self) -> str: ...

    def snapshot(self, step: str = ...) -> Snapshot: ...

    def click(self, x: int, y: int, step: str) -> None: ...

    def swipe(self, fx: int, fy: int, tx: int, ty: int, step: str, duration: float = ...) -> None: ...

    def screenshot_png(self) -> bytes: ...


@dataclass(frozen=True)
class Pace:
    """Bounds of one flow run, in host seconds (a real handset needs more than a virtual one)."""

    #: the whole flow, first screen to home
    total: float = 600.0
    #: a screen to react to a press (a switch flips, a page changes)
    react: float = 5.0
    #: an unknown screen to become a known one (a transition, an animation)
    settle: float = 2.0
    #: between two reads of the screen while waiting
    poll: float = 0.05
    #: scrolls to find a toggle or button below the fold
    max_scrolls: int = 6
    #: presses in one flow before it counts as going round in circles
    max_actions: int = 200


@dataclass
class Watch:
    """Polls the screen of one driver for one flow, on an injectable clock."""

    driver: Driver
    flow: WizardFlow
    pace: Pace
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    reads: int = field(default=0)

    def read(self, step: str) -> tuple[Snapshot, Recognised]:
        self.reads += 1
        snapshot = self.driver.snapshot(step)
        return snapshot, recognise(self.flow, snapshot)

    def changed(self, before: Snapshot, step: str, timeout: float) -> tuple[Snapshot, Recognised] | None:
        """The screen once it differs from `before`; None if it stays the same for `timeout`."""
        end = self.clock() + timeout
        while True:
            snapshot, seen = self.read(step)
            if snapshot.signature() != before.signature():
                return snapshot, seen
            if self.clock() >= end:
                return None
            self.sleep(self.pace.poll)

    def passes(self, screen_id: str, step: str, timeout: float) -> tuple[Snapshot, Recognised] | None:
        """The screen once it is no longer `screen_id`; None if it still is after `timeout`."""
        end = self.clock() + timeout
        while True:
            snapshot, seen = self.read(step)
            if seen.name != screen_id:
                return snapshot, seen
            if self.clock() >= end:
                return None
            self.sleep(self.pace.poll)

    def settles(self, step: str, timeout: float) -> tuple[Snapshot, Recognised]:
        """The screen once it is known (home or a screen of the flow), or the last unknown read."""
        end = self.clock() + timeout
        while True:
            snapshot, seen = self.read(step)
            if seen.kind != "unknown" or self.clock() >= end:
                return snapshot, seen
            self.sleep(self.pace.poll)
