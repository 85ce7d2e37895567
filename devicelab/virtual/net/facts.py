"""What an app running on a virtual handset can read about it (telephony, Wi-Fi, settings,
build properties), gathered once per request so payload builders stay pure functions."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devicelab.model.sims import SimProfile

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem


@dataclass(frozen=True)
class DeviceFacts:
    imei1: str
    imei2: str
    serial: str
    wifi_mac: str  # aa:bb:cc:dd:ee:ff, lower case as the Wi-Fi driver reports it
    android_id: str  # 16 hex digits (Settings.Secure.ANDROID_ID)
    fingerprint: str
    props: dict[str, str]
    locale: str  # en-US
    timezone: str  # Europe/Oslo
    now: float  # device wall-clock time, seconds since the epoch
    sim: SimProfile | None
    wifi_connected: bool

    @classmethod
    def of(cls, system: AndroidSystem) -> DeviceFacts:
        hw = system.hardware
        return cls(
            imei1=hw.imei1, imei2=hw.imei2, serial=hw.serialno, wifi_mac=hw.wifi_mac.lower(),
            android_id=system.settings("secure").get("android_id", system.userdata.android_id) or "0" * 16,
            fingerprint=system.build.fingerprint, props=dict(system.props),
            locale=system.getprop("persist.sys.locale") or system.getprop("ro.product.locale") or "en-US",
            timezone=system.getprop("persist.sys.timezone") or "UTC", now=system.clock.now(),
            sim=system.radio.sim, wifi_connected=system.radio.wifi_connected,
        )

    def prop(self, name: str, default: str = "") -> str:
        return self.props.get(name, default) or default

    @property
    def android_id_int(self) -> int:
        try:
            return int(self.android_id, 16)
        except ValueError:
            return 0

    @property
    def now_ms(self) -> int:
        return int(self.now * 1000)

    def local_time(self) -> datetime.datetime:
        """Device wall time in the device's time zone (what SimpleDateFormat prints)."""
        try:
            zone: datetime.tzinfo = zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = datetime.UTC
        return datetime.datetime.fromtimestamp(self.now, zone)

    def user_agent(self) -> str:
        """Dalvik's default User-Agent (HttpURLConnection without an explicit one)."""
        return (f"Dalvik/2.1.0 (Linux; U; Android {self.prop('ro.build.version.release', '9')}; "
                f"{self.prop('ro.product.model')} Build/{self.prop('ro.build.id')})")
