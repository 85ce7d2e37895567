"""Device time for the virtual handset: a scaled clock, so an hour of device time can pass in
seconds, and one that a fault can make jump."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class DeviceClock:
    """Device time = epoch + (host monotonic elapsed since start) x scale + jumps."""

    scale: float = 1.0
    epoch: float = field(default_factory=time.time)
    _start: float = field(default_factory=time.monotonic)
    _offset: float = 0.0
    _boot_at: float = 0.0

    def now(self) -> float:
        """Device wall-clock time (seconds since the Unix epoch)."""
        return self.epoch + (time.monotonic() - self._start) * self.scale + self._offset

    def elapsed_realtime(self) -> float:
        """Seconds of device time since the last boot (`SystemClock.elapsedRealtime`)."""
        return max(0.0, self.now() - self._boot_at)

    def mark_boot(self) -> None:
        self._boot_at = self.now()

    def jump(self, seconds: float) -> None:
        """Move device wall time (what a user or NITZ does); elapsed realtime is unaffected."""
        self._offset += seconds
        self._boot_at += seconds

    def host_seconds(self, device_seconds: float) -> float:
        """How long `device_seconds` of device time takes on the host."""
        return device_seconds / self.scale
