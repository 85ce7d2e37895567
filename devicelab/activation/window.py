"""The observation window: device time passing on a handset while its capture runs.

One window for the gate and the suites alike. It is counted in device time (a virtual lab runs a
scaled clock, a real handset 1x), bounded on the host by the measured clock rate, and it does not
count when the handset rebooted during it (its traffic while down was never part of the plan) or
when its clock jumped (the window did not really pass).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devicelab.errors import InfrastructureError, RunInterruptedError
from devicelab.handset.clock import ObservationTimeoutError

if TYPE_CHECKING:
    from devicelab.handset import Handset

__all__ = ["CLOCK_MARGIN", "CLOCK_SLACK", "WINDOW_SLICE", "Observation", "ObservationTimeoutError", "Window", "observe",
           "wait_device_time"]

#: device seconds between two reads of the clock while the window passes
WINDOW_SLICE = 60.0
#: host seconds at most between two checks for a stop request
CANCEL_SECONDS = 2.0
#: device time may run this much faster than measured (plus the margin) before it counts as a clock jump
CLOCK_SLACK = 2.0
CLOCK_MARGIN = 30.0


@dataclass(frozen=True)
class Observation:
    """An observation window that passed: device seconds from start to end, host seconds it took."""

    device_start: int
    device_end: int
    host_seconds: float
    rate: float

    @property
    def device_seconds(self) -> int:
        return self.device_end - self.device_start


def wait_device_time(handset: Handset, device_seconds: float, *, rate: float | None = None, slack: float = 1.5,
            margin: float = 5.0, max_host_seconds: float | None = None,
            clock: Callable[[], float] = time.monotonic) -> Observation:
    """Wait until `device_seconds` of device time passed on the handset. The host bound is
    device_seconds / rate x slack + margin (the rate is measured when not given)."""
    rate = rate or handset.clock_rate()
    bound = device_seconds / rate * slack + margin
    if max_host_seconds is not None:
        bound = min(bound, max_host_seconds)
    started = clock()
    start = handset.device_time()
    now = start
    while now - start < device_seconds:
        elapsed = clock() - started
        if elapsed >= bound:
            raise ObservationTimeoutError(
                f"device time advanced {now - start} of {device_seconds:.0f} s in {elapsed:.1f} host seconds "
                f"(measured rate {rate:.2f}x, bound {bound:.1f} s)", serial=handset.serial, step="observe")
        left = (device_seconds - (now - start)) / rate
        time.sleep(max(0.005, min(left / 2, 1.0, bound - elapsed)))
        now = handset.device_time()
    return Observation(start, now, clock() - started, rate)


class Window:
    """An observation window opened on a handset: `wait` lets device time pass, `close` checks that
    it really did (no reboot, no clock jump). `observe` does all three."""

    def __init__(self, handset: Handset, *, clock: Callable[[], float] = time.monotonic,
                 cancel: threading.Event | None = None) -> None:
        self.handset = handset
        self.cancel = cancel or threading.Event()
        self.clock = clock
        self.boot = handset.boot_id()
        self.host_start, self.device_start = clock(), handset.device_time()
        self.rate = handset.clock_rate()
        self.done = 0.0

    def wait(self, device_seconds: float, *, progress: Callable[[float], None] | None = None) -> None:
        end = self.done + device_seconds
        while self.done < end:
            if self.cancel.is_set():
                raise RunInterruptedError(f"stopped after {self.done:.0f} of {end:.0f} device seconds",
                                          serial=self.handset.serial, step="observe")
            # slices of at most ~CANCEL_SECONDS host seconds: a stop request is heard within seconds at 1x
            part = min(WINDOW_SLICE, end - self.done, max(1.0, self.rate * CANCEL_SECONDS))
            self.done += wait_device_time(self.handset, part, rate=self.rate,
                                          clock=self.clock).device_seconds
            if progress is not None:
                progress(self.done)

    def close(self) -> Observation:
        """InfrastructureError when the handset rebooted or its clock jumped: the window does not count."""
        handset = self.handset
        if handset.boot_id() != self.boot:
            # traffic while it was down, and the boot's own, was never part of the plan
            raise InfrastructureError("the handset rebooted during the observation window", serial=handset.serial,
                                      step="observe")
        # the rate again: a clock that jumped while the first was measured makes that one huge
        trusted = min(self.rate, handset.clock_rate())
        device_end, host = handset.device_time(), self.clock() - self.host_start
        advanced = device_end - self.device_start
        if advanced > host * trusted * CLOCK_SLACK + CLOCK_MARGIN:
            raise InfrastructureError(f"device time advanced {advanced} s in {host:.1f} host seconds at "
                                      f"{trusted:.2f}x: the device clock jumped, the window did not really pass",
                                      serial=handset.serial, step="observe")
        return Observation(self.device_start, device_end, host, self.rate)


def observe(handset: Handset, device_seconds: float, *, progress: Callable[[float], None] | None = None,
            clock: Callable[[], float] = time.monotonic) -> Observation:
    """Watch `device_seconds` of device time pass; `progress` hears the device seconds done so far.
    InfrastructureError when the handset rebooted or its clock jumped: that window does not count."""
    window = Window(handset, clock=clock)
    window.wait(device_seconds, progress=progress)
    return window.close()
