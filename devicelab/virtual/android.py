"""The running Android system of a virtual handset: properties, settings, packages, logcat,
the socket and process tables, the focused activity and injected input. The shell
(devicelab.virtual.shell) serves these in Android's own formats."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field

from devicelab.model.builds import Build, Package
from devicelab.model.sims import SimProfile
from devicelab.virtual import activities
from devicelab.virtual.clock import DeviceClock
from devicelab.virtual.events import EventLog, InputEvent, Intent
from devicelab.virtual.fs import VirtualFS
from devicelab.virtual.identity import HardwareIdentity
from devicelab.virtual.logbuffer import LogBuffer as LogBuffer
from devicelab.virtual.logbuffer import LogEntry as LogEntry
from devicelab.virtual.processes import Process, ProcessTable

SETTINGS_NAMESPACES = ("global", "secure", "system")

#: Properties an unprivileged shell may set, as on Android (debug.*, persist.* need root).
SETTABLE_PREFIXES = ("debug.", "log.tag.", "persist.log.tag", "dalvik.vm.", "vendor.debug.")
#: PROP_VALUE_MAX: longer values are refused (except ro.*, which Android 9 allows to be long).
PROP_VALUE_MAX = 92
ANY4 = "0.0.0.0"  # noqa: S104  (an address in a socket table, not a bind)
PROP_NAME = re.compile(r"^[A-Za-z0-9_.\-:@]+$")


@dataclass
class UserData:
    """What lives on /data and survives reboots but not a factory reset."""

    android_id: str = ""
    settings: dict[str, dict[str, str]] = field(default_factory=lambda: {ns: {} for ns in SETTINGS_NAMESPACES})
    user_packages: list[Package] = field(default_factory=list)
    boot_count: int = 0
    #: package -> `disabled-user`, `disabled` or `uninstalled` (for user 0); absent: enabled
    package_states: dict[str, str] = field(default_factory=dict)

    def first_boot_defaults(self, build: Build) -> None:
        """What Android writes on the first boot after a wipe."""
        self.android_id = secrets.token_hex(8)
        self.settings["global"].update(
            {
                "device_provisioned": "0",
                # a retail build ships USB debugging off; a lab build has it on from the first boot
                "adb_enabled": "1" if build.access.adb_at_boot else "0",
                "airplane_mode_on": "0",
                "wifi_on": "1",
                "mobile_data": "1",
                "data_roaming": "0",
                "auto_time": "1",
                "development_settings_enabled": "1" if build.access.adb_at_boot else "0",
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
class SocketEntry:
    """A socket as /proc/net/{tcp,tcp6,udp} shows it."""

    proto: str  # tcp, tcp6, udp, udp6
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
    wifi_enabled: bool = True

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
        self.screen_on = True
        self.boot_id = str(uuid.uuid4())
        self.processes = ProcessTable(f"{hardware.serialno}-{userdata.boot_count}")
        #: `input ...` and `am broadcast` as they arrive; the UI subscribes to react
        self.input = EventLog[InputEvent]()
        self.broadcasts = EventLog[Intent]()
        self.activity_starts = EventLog[Intent]()
        #: display state (`wm size WxH`, `wm density N`, rotation 0-3)
        self.orientation = 0
        self.size_override: tuple[int, int] | None = None
        self.density_override: int | None = None
        self._next_inode = 40_000 + userdata.boot_count * 1000
        self._rebuild_props()
        self.settings("secure").setdefault("bluetooth_address", hardware.bt_mac.upper())
        for persistent in ("com.android.systemui", "com.android.phone"):
            pkg = self.package(persistent)
            if pkg is not None:
                self.processes.spawn(persistent, pkg.uid)
        self.focused_activity = self.setup_activity() if not self.setup_complete() else self.home_activity()
        self._start_process_for(self.focused_activity)

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
                "init.svc.adbd": "running" if self.settings("global").get("adb_enabled") == "1" else "stopped",
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
        if not PROP_NAME.match(name) or name.startswith(".") or ".." in name:
            return False
        if name.startswith("ro.") and name in self.props:
            return False
        if not name.startswith("ro.") and len(value) >= PROP_VALUE_MAX:
            return False
        if not root and not name.startswith(SETTABLE_PREFIXES):
            return False
        self.props[name] = value
        return True

    # -- settings ------------------------------------------------------------------------
    def settings(self, namespace: str) -> dict[str, str]:
        return self.userdata.settings[namespace]

    def setup_complete(self) -> bool:
        return (
            self.settings("secure").get("user_setup_complete") == "1"
            and self.settings("global").get("device_provisioned") == "1"
        )

    # -- packages ------------------------------------------------------------------------
    @property
    def packages(self) -> list[Package]:
        return [*self.build.packages, *self.userdata.user_packages]

    def package(self, name: str) -> Package | None:
        return next((p for p in self.packages if p.name == name), None)

    def packages_for_uid(self, uid: int) -> list[Package]:
        return [p for p in self.packages if p.uid == uid]

    def package_state(self, name: str) -> str:
        """`enabled`, `disabled`, `disabled-user` or `uninstalled` (for user 0)."""
        return self.userdata.package_states.get(name, "enabled")

    def installed(self, name: str) -> Package | None:
        """The package when it is installed for user 0 (not uninstalled with --user 0)."""
        pkg = self.package(name)
        return pkg if pkg is not None and self.package_state(name) != "uninstalled" else None

    # -- activities ----------------------------------------------------------------------
    def home_activity(self) -> str:
        for package, activity in activities.HOME_ACTIVITIES.items():
            if self._usable(package):
                return f"{package}/{activity}"
        return activities.FALLBACK_HOME

    def setup_activity(self) -> str:
        for package, activity in activities.SETUP_ACTIVITIES.items():
            if self._usable(package):
                return f"{package}/{activity}"
        return self.home_activity()

    def launcher_activity(self, package: str) -> str | None:
        """The component `monkey -p PKG` starts, or None when the package has no launcher icon."""
        if not self._usable(package):
            return None
        if package in activities.LAUNCHER_ACTIVITIES:
            return f"{package}/{activities.LAUNCHER_ACTIVITIES[package]}"
        if any(p.name == package for p in self.userdata.user_packages):
            return f"{package}/.MainActivity"
        return None

    def _usable(self, package: str) -> bool:
        return self.installed(package) is not None and self.package_state(package) == "enabled"

    def start_activity(self, component: str, intent: Intent | None = None) -> str:
        """Bring an activity to the front (its package's process is started); returns the
        component in short form."""
        component = activities.short_component(component)
        self.activity_starts.publish(intent or Intent(component=component))
        self.focused_activity = component
        self.screen_on = True
        proc = self._start_process_for(component)
        self.logcat.write("ActivityManager", f"START u0 {{cmp={component}}} from uid 2000",
                          pid=self.system_server_pid())
        if proc is not None:
            self.logcat.write(
                "ActivityManager", f"Start proc {proc.pid}:{proc.name}/{self._uid_label(proc.uid)} for activity "
                f"{component}", pid=self.system_server_pid(),
            )
        return component

    def _start_process_for(self, component: str) -> Process | None:
        package = component.partition("/")[0]
        pkg = self.package(package)
        if pkg is None:
            return None
        if self.processes.by_name(package):
            return None
        return self.processes.spawn(package, pkg.uid)

    def go_home(self) -> None:
        self.focused_activity = self.home_activity()
        self._start_process_for(self.focused_activity)

    def force_stop(self, package: str) -> None:
        """`am force-stop`: kill the package; if it was in front, the home screen returns."""
        self.processes.kill_package(package)
        if self.focused_activity.partition("/")[0] == package:
            self.focused_activity = self.home_activity() if self.setup_complete() else self.setup_activity()
            self._start_process_for(self.focused_activity)
        self.logcat.write("ActivityManager", f"Force stopping {package} appid=0 user=0: from pid 2000",
                          pid=self.system_server_pid())

    # -- input ---------------------------------------------------------------------------
    def inject_input(self, event: InputEvent) -> None:
        """Record an injected input; unless a subscriber handles it, apply Android's default."""
        if self.input.publish(event) or event.kind != "keyevent":
            return
        if event.keycode == 26:  # POWER
            self.screen_on = not self.screen_on
        elif event.keycode == 224:  # WAKEUP
            self.screen_on = True
        elif event.keycode == 223:  # SLEEP
            self.screen_on = False
        elif event.keycode == 3:  # HOME: while setup runs, the setup wizard is the home screen
            self.screen_on = True
            if self.setup_complete():
                self.go_home()
            else:
                self.focused_activity = self.setup_activity()
        elif event.keycode == 4 and self.setup_complete() and self.focused_activity != self.home_activity():
            self.go_home()  # BACK from a one-screen app

    def broadcast(self, intent: Intent) -> None:
        self.broadcasts.publish(intent)

    # -- sockets -------------------------------------------------------------------------
    def next_inode(self) -> int:
        self._next_inode += 1
        return self._next_inode

    def listen(self, port: int, *, uid: int, proto: str = "tcp6", address: str = "::") -> SocketEntry:
        """Open a listening socket (e.g. a UI server on 9008) so /proc/net shows it."""
        entry = SocketEntry(proto, (address, port), ("::" if proto.endswith("6") else ANY4, 0), "LISTEN",
                            uid, self.next_inode())
        self.sockets.append(entry)
        return entry

    def close_socket(self, entry: SocketEntry) -> None:
        if entry in self.sockets:
            self.sockets.remove(entry)

    # -- helpers -------------------------------------------------------------------------
    def system_server_pid(self) -> int:
        server = self.processes.by_name("system_server")
        return server[0].pid if server else 1000

    @staticmethod
    def _uid_label(uid: int) -> str:
        return f"u0a{uid - 10000}" if uid >= 10000 else str(uid)
