"""The running Android system of a virtual handset: properties, settings, packages, logcat and
the socket table. The shell (devicelab.virtual.shell) serves these in Android's own formats."""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field

from devicelab.builds import Build, Package
from devicelab.sims import SimProfile
from devicelab.virtual.clock import DeviceClock
from devicelab.virtual.fs import VirtualFS
from devicelab.virtual.identity import HardwareIdentity

SETTINGS_NAMESPACES = ("global", "secure", "system")

#: Properties an unprivileged shell may set, as on Android (debug.*, persist.* need root).
SETTABLE_PREFIXES = ("debug.", "log.tag.", "persist.log.tag", "dalvik.vm.", "vendor.debug.")


@dataclass
class UserData:
    """What lives on /data and survives reboots but not a factory reset."""

    android_id: str = ""
    settings: dict[str, dict[str, str]] = field(default_factory=lambda: {ns: {} for ns in SETTINGS_NAMESPACES})
    user_packages: list[Package] = field(default_factory=list)
    boot_count: int = 0

    def first_boot_defaults(self, build: Build) -> None:
        """What Android writes on the first boot after a wipe."""
        self.android_id = secrets.token_hex(8)
        self.settings["global"].update(
            {
                "device_provisioned": "0",
                "adb_enabled": "1",
                "airplane_mode_on": "0",
                "wifi_on": "1",
                "mobile_data": "1",
                "data_roaming": "0",
                "auto_time": "1",
                "development_settings_enabled": "1",
                "stay_on_while_plugged_in": "0",
                "package_verifier_enable": "1",
            }
        )
        self.settings["secure"].update(
            {
                "android_id": self.android_id,
                "user_setup_complete": "0",
                "location_mode": "3",
                "default_input_method": "com.google.android.inputmethod.latin/"
                "com.android.inputmethod.latin.LatinIME",
                "bluetooth_name": build.model,
            }
        )
        self.settings["system"].update(
            {
                "screen_brightness": "102",
                "screen_off_timeout": "60000",
                "time_12_24": "24",
                "font_scale": "1.0",
            }
        )


@dataclass(frozen=True)
class LogEntry:
    """One logcat line."""

    time: float
    pid: int
    tid: int
    level: str
    tag: str
    message: str


class LogBuffer:
    """logcat's ring buffer: the device writes, `logcat -d` reads."""

    def __init__(self, clock: DeviceClock, capacity: int = 20_000) -> None:
        self.clock = clock
        self.entries: deque[LogEntry] = deque(maxlen=capacity)

    def write(self, tag: str, message: str, *, level: str = "I", pid: int = 1000, tid: int | None = None) -> None:
        self.entries.append(LogEntry(self.clock.now(), pid, tid or pid, level, tag, message))

    def clear(self) -> None:
        self.entries.clear()


@dataclass(frozen=True)
class SocketEntry:
    """A socket as /proc/net/{tcp,tcp6,udp} shows it."""

    proto: str  # tcp, tcp6, udp
    local: tuple[str, int]
    remote: tuple[str, int]
    state: str  # ESTABLISHED, LISTEN, SYN_SENT, TIME_WAIT, CLOSE
    uid: int
    inode: int


@dataclass
class Radio:
    """SIM slot and connectivity."""

    sim: SimProfile | None = None
    wifi_connected: bool = False
    wifi_ssid: str = "devicelab"
    mobile_data: bool = True

    @property
    def sim_state(self) -> str:
        return "READY" if self.sim else "ABSENT"


class AndroidSystem:
    """The running system, built at boot from the flashed build, the hardware identity, the
    SIM slot and /data."""

    def __init__(
        self,
        build: Build,
        hardware: HardwareIdentity,
        userdata: UserData,
        radio: Radio,
        fs: VirtualFS,
        clock: DeviceClock,
    ) -> None:
        self.build = build
        self.hardware = hardware
        self.userdata = userdata
        self.radio = radio
        self.fs = fs
        self.clock = clock
        self.logcat = LogBuffer(clock)
        self.sockets: list[SocketEntry] = []
        self.props: dict[str, str] = {}
        self.rooted = False  # adbd restarted as root (userdebug only)
        self.focused_activity = "com.google.android.apps.nexuslauncher/.NexusLauncherActivity"
        self.screen_on = True
        self._rebuild_props()

    # -- properties ----------------------------------------------------------------------
    def _rebuild_props(self) -> None:
        props = self.build.system_properties()
        props.update(
            {
                "ro.serialno": self.hardware.serialno,
                "ro.boot.serialno": self.hardware.serialno,
                "ro.boot.slot_suffix": "_a",
                "ro.boot.verifiedbootstate": "orange" if self.build.build_type != "user" else "green",
                "persist.sys.timezone": "Europe/Oslo",
                "persist.sys.locale": props.get("ro.product.locale", "en-US"),
                "sys.boot_completed": "",
                "dev.bootcomplete": "",
                "init.svc.adbd": "running",
                "service.adb.root": "0",
                "wifi.interface": "wlan0",
                "net.hostname": f"android-{self.userdata.android_id or '0' * 16}",
            }
        )
        props.update(self.radio_props())
        self.props = props

    def radio_props(self) -> dict[str, str]:
        sim = self.radio.sim
        return {
            "gsm.sim.state": f"{self.radio.sim_state},ABSENT",
            "gsm.sim.operator.numeric": sim.mccmnc if sim else "",
            "gsm.sim.operator.alpha": sim.operator if sim else "",
            "gsm.sim.operator.iso-country": sim.country if sim else "",
            "gsm.operator.numeric": sim.mccmnc if sim else "",
            "gsm.operator.alpha": sim.operator if sim else "",
            "gsm.operator.iso-country": sim.country if sim else "",
            "gsm.network.type": "LTE,Unknown" if sim else "Unknown,Unknown",
        }

    def refresh_radio(self) -> None:
        self.props.update(self.radio_props())

    def getprop(self, name: str) -> str:
        return self.props.get(name, "")

    def setprop(self, name: str, value: str, *, root: bool) -> bool:
        """Set a property as `setprop` would; False when Android would refuse it."""
        if name.startswith("ro.") and name in self.props:
            return False
        if not root and not name.startswith(SETTABLE_PREFIXES):
            return False
        self.props[name] = value
        return True

    # -- settings ------------------------------------------------------------------------
    def settings(self, namespace: str) -> dict[str, str]:
        return self.userdata.settings[namespace]

    # -- packages ------------------------------------------------------------------------
    @property
    def packages(self) -> list[Package]:
        return [*self.build.packages, *self.userdata.user_packages]

    def package(self, name: str) -> Package | None:
        return next((p for p in self.packages if p.name == name), None)

    def packages_for_uid(self, uid: int) -> list[Package]:
        return [p for p in self.packages if p.uid == uid]
