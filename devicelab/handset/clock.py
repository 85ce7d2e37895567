"""The handset's clock: device time (`date +%s`) and how fast it runs against the host's.

A virtual lab runs a scaled clock where an hour passes in seconds; a real handset runs at 1x.
Windows are counted in device time, and bounded on the host by the measured rate.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from devicelab.errors import HandsetError

if TYPE_CHECKING:
    from devicelab.handset.handset import Handset


class ObservationTimeoutError(HandsetError):
    """Device time did not reach the end of the observation window within the host bound."""


def device_time(handset: Handset) -> int:
    """Seconds since the epoch on the handset's clock (`date +%s`)."""
    out = handset.shell("date +%s", check=True).stdout.strip()
    if not re.fullmatch(r"\d{1,12}", out):
        raise HandsetError(f"`date +%s` printed {out[:40]!r}", serial=handset.serial, step="read device time")
    return int(out)


def measure_clock_rate(handset: Handset, *, sample: float = 0.5, limit: float = 5.0,
                       clock: Callable[[], float] = time.monotonic) -> float:
    """Device seconds per host second, from the ticks of `date +%s` (1 s resolution): from the
    first tick seen to the last tick within `sample` host seconds (or the next tick, at 1x)."""
    end = clock() + limit
    start = device_time(handset)
    first: tuple[int, float] | None = None
    last: tuple[int, float] | None = None
    while clock() < end:
        now, at = device_time(handset), clock()
        if first is None:
            if now != start:
                first = (now, at)
        elif now != (last or first)[0]:
            last = (now, at)
            if at - first[1] >= sample:
                break
        time.sleep(0.001 if first is None else 0.005)
    if first is None or last is None:
        raise ObservationTimeoutError(f"the handset clock did not tick twice in {limit:.0f} s",
                                      serial=handset.serial, step="measure the device clock")
    return (last[0] - first[0]) / (last[1] - first[1])
