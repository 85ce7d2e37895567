"""Alarms on the handset's scaled clock: "60 s after boot" is 60 s of device time, one host
second when the clock runs 60 times faster. Cancelled together when the system goes down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from devicelab.virtual.clock import DeviceClock

log = logging.getLogger(__name__)


class DeviceScheduler:
    """Like AlarmManager's ELAPSED_REALTIME alarms: wall-clock jumps do not move them."""

    def __init__(self, clock: DeviceClock) -> None:
        self.clock = clock
        self._handles: set[asyncio.TimerHandle] = set()

    @property
    def pending(self) -> int:
        return len(self._handles)

    def after(self, device_seconds: float, callback: Callable[[], None]) -> None:
        """Run `callback` once, `device_seconds` from now (0: on the next loop turn)."""
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._handles.discard(handle)
            try:
                callback()
            except Exception:  # an app's bug must not stop the other alarms
                log.exception("scheduled callback failed")

        handle = loop.call_later(self.clock.host_seconds(max(0.0, device_seconds)), fire)
        self._handles.add(handle)

    def every(self, first: float, period: float, count: int, callback: Callable[[int], None]) -> None:
        """Run `callback(n)` for n = 1..count: at `first`, then every `period` device seconds."""

        def fire(n: int) -> None:
            callback(n)
            if n < count:
                self.after(period, lambda: fire(n + 1))

        self.after(first, lambda: fire(1))

    def cancel_all(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
