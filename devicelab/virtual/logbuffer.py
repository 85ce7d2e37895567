"""logcat's ring buffer: the running system and its apps write entries, `logcat` reads, dumps
and follows them."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

from devicelab.virtual.clock import DeviceClock


@dataclass(frozen=True)
class LogEntry:
    """One logcat line."""

    time: float
    pid: int
    tid: int
    level: str
    tag: str
    message: str
    buffer: str = "main"


class LogBuffer:
    """logcat's ring buffer: the device writes, `logcat -d` reads, `logcat` follows."""

    def __init__(self, clock: DeviceClock, capacity: int = 20_000) -> None:
        self.clock = clock
        self.entries: deque[LogEntry] = deque(maxlen=capacity)
        #: entries ever written; entry i (counting from 0) is entries[i - first_index]
        self.written = 0
        self._new = asyncio.Event()

    @property
    def first_index(self) -> int:
        return self.written - len(self.entries)

    def write(
        self, tag: str, message: str, *, level: str = "I", pid: int = 1000, tid: int | None = None,
        buffer: str = "main",
    ) -> None:
        self.entries.append(LogEntry(self.clock.now(), pid, tid or pid, level, tag, message, buffer))
        self.written += 1
        self._new.set()
        self._new = asyncio.Event()

    def since(self, index: int) -> list[LogEntry]:
        """Entries written at or after absolute index `index` that are still buffered."""
        start = max(0, index - self.first_index)
        return list(self.entries)[start:]

    async def wait_new(self, seen: int, timeout: float) -> None:
        """Return when more than `seen` entries were written, or after `timeout` seconds."""
        if self.written > seen:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._new.wait(), timeout)

    def clear(self) -> None:
        self.entries.clear()
