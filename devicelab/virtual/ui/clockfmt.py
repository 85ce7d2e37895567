"""Device time as SystemUI and the launcher print it, in the handset's time zone."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem

CHINESE_WEEKDAYS = "一二三四五六日"


def local_time(system: AndroidSystem) -> dt.datetime:
    name = system.getprop("persist.sys.timezone") or "UTC"
    try:
        zone: dt.tzinfo = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return dt.datetime.fromtimestamp(system.clock.now(), zone)


def _chinese(system: AndroidSystem) -> bool:
    return system.getprop("persist.sys.locale").startswith("zh")


def time_text(system: AndroidSystem) -> str:
    """The status bar clock (24-hour, as `time_12_24` is 24 on first boot)."""
    return local_time(system).strftime("%H:%M")


def date_text(system: AndroidSystem) -> str:
    """The launcher's date line: "Monday, May 19" / "5月19日 星期一"."""
    now = local_time(system)
    if _chinese(system):
        return f"{now.month}月{now.day}日 星期{CHINESE_WEEKDAYS[now.weekday()]}"
    return f"{now.strftime('%A, %B')} {now.day}"
