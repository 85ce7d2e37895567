"""Firmware builds described as data (`fixtures/builds/NAME.yaml`).

A build manifest says what a handset runs after it is flashed: its fingerprint and
properties, its packages, and what the bootloader reports. The harness uses it to check what
it flashed; the virtual lab uses it to behave as that firmware.
"""

from __future__ import annotations

import calendar
import re
import time
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from devicelab.errors import ConfigError
from devicelab.model.data import Frozen, load
from devicelab.model.templates import TemplateSpec

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BUILDS_DIR = FIXTURES / "builds"

#: brand/name/device:release/id/incremental:type/tags
FINGERPRINT = re.compile(
    r"^(?P<brand>[^/:]+)/(?P<name>[^/:]+)/(?P<device>[^/:]+):(?P<release>[^/:]+)/"
    r"(?P<id>[^/:]+)/(?P<incremental>[^/:]+):(?P<type>user|userdebug|eng)/(?P<tags>[^/:]+)$"
)


class Package(Frozen):
    """An installed package: where its APK lives and the uid it runs as."""

    name: str = Field(pattern=r"^[A-Za-z][\w]*(\.[A-Za-z_][\w]*)*$")
    path: str = Field(pattern=r"^/(system|vendor|product|data)/")
    uid: int = Field(ge=1000, le=99999)
    system: bool = True
    version_code: int = 1


class Bootloader(Frozen):
    """What `fastboot getvar` reports for this build's bootloader."""

    product: str
    version_bootloader: str
    version_baseband: str
    secure: bool = True
    # -- issue 14: the lock and the slots, as a lab finds them ---------------------------------
    #: retail B2N bootloaders are locked: `flash`, `update`, `erase` and `set_active` are refused
    locked: bool = True
    #: B2N is A/B (the virtual storage models exactly two slots)
    slot_count: int = Field(default=2, ge=2, le=2)
    current_slot: Literal["a", "b"] = "a"


#: Who a build is for: what a shop sells, or what an OEM builds for its own QA lab.
AccessKind = Literal["retail", "lab"]
#: Something baked into a lab build: `lab` is the lab's own (its adb key, its capture CA).
Baked = Literal["lab"]


class Access(Frozen):
    """How a lab reaches the build (issue 14). Retail: adb off after a wipe until someone finishes
    the wizard and turns USB debugging on, every host key asked for on screen. Lab: the lab's adb
    key baked in and adb on at boot, and, where the OEM chose, the lab's CA in the system store."""

    kind: AccessKind = "retail"
    #: adb (USB debugging) on from the first boot after a wipe
    adb_at_boot: bool = False
    #: host keys baked into /adb_keys, trusted with no prompt
    adb_keys: tuple[Baked, ...] = ()
    #: CAs baked into the system trust store (/system/etc/security/cacerts)
    system_cas: tuple[Baked, ...] = ()

    @model_validator(mode="after")
    def _retail_bakes_nothing(self) -> Access:
        if self.kind == "retail" and (self.adb_at_boot or self.adb_keys or self.system_cas):
            raise ValueError("a retail build has adb off, no baked adb keys and no baked CA; use kind: lab")
        return self


class Ota(Frozen):
    """How recovery installs the build on a locked phone (issue 14): its signed full OTA package,
    sideloaded through recovery (`adb sideload`)."""

    #: a signed full OTA zip (relative to fixtures/builds/); without one devicelab generates it, and
    #: only a virtual handset accepts that (like generated factory images)
    package: str | None = None
    #: the key this build's recovery trusts (its otacerts); None: the fingerprint's tags
    #: (`release-keys`, `test-keys`). A package must be signed with the running build's key.
    key: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]*$")


#: What starts an app's network request (device-time delays are counted from the event).
TriggerKind = Literal["boot", "unlock", "screen_on", "sim_changed", "fingerprint_changed", "periodic"]
#: What an app sends; each kind is one behaviour of the virtual lab (devicelab.virtual.net.apps).
PayloadKind = Literal["checkin", "activation", "connectivity", "analytics", "zzhc", "pinned_push", "direct_daemon",
                      "template", "telemetry"]
#: Consent choices the setup wizard records (their settings keys: devicelab.virtual.consent).
ConsentName = Literal[
    "google_usage_diagnostics", "google_error_reports", "oem_ux_program", "oem_analytics", "oem_privacy_agreed",
]
URL = re.compile(r"^(?P<scheme>https?|tcp|udp|dns|quic)://(?P<host>[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:(?P<port>\d{1,5}))?(?P<path>/\S*)$")
WEEK = 7 * 24 * 3600.0
HOST_NAME = r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"


class Trigger(Frozen):
    """When an app talks: an event plus a delay in device seconds, or a period with a count."""

    event: TriggerKind
    delay: float = Field(default=0.0, ge=0.0, le=WEEK)
    every: float | None = Field(default=None, ge=1.0, le=WEEK)
    count: int | None = Field(default=None, ge=1, le=10_000)

    @model_validator(mode="after")
    def _period(self) -> Trigger:
        if self.event == "periodic" and (self.every is None or self.count is None):
            raise ValueError("a periodic trigger needs `every` (device seconds) and `count`")
        if self.event != "periodic" and (self.every is not None or self.count is not None):
            raise ValueError("`every` and `count` belong to periodic triggers only")
        return self


class TrafficCondition(Frozen):
    """What must hold when a trigger fires; all of it, or the app stays silent."""

    consent: tuple[ConsentName, ...] = ()
    #: only with a SIM of these networks (MCC+MNC); empty: any SIM, or none
    sim_mccmnc: tuple[str, ...] = ()
    sim_required: bool = False

    @field_validator("sim_mccmnc")
    @classmethod
    def _mccmnc(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(r"\d{5,6}", code):
                raise ValueError(f"MCC+MNC {code!r} is not 5-6 digits")
        return value


class AppTraffic(Frozen):
    """One thing an app of the build sends over the network, and when."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    #: the sending package; a native daemon without one names `process` and `uid` instead
    package: str | None = None
    process: str | None = Field(default=None, pattern=r"^[\w.-]+$")
    uid: int | None = Field(default=None, ge=0, le=99999)
    payload: PayloadKind
    url: str
    #: `ignore`: the component opens its own sockets and never reads the proxy setting
    proxy: Literal["system", "ignore"] = "system"
    #: the app pins its server's public key (SPKI) and refuses any other certificate
    pinned: bool = False
    triggers: tuple[Trigger, ...] = Field(min_length=1)
    when: TrafficCondition = TrafficCondition()
    #: after a success, stay quiet until the data is wiped (`data`) or another SIM comes (`iccid`)
    remember_success: Literal["none", "data", "iccid"] = "none"
    # A client that hides where it goes (hostile builds, fixtures/builds/hostile/): it names another
    # host in its TLS server name or Host header than the one it connects to, or sends its payload
    # as WebSocket messages after an upgrade instead of as a request body.
    sni: str | None = Field(default=None, pattern=HOST_NAME)
    host_header: str | None = Field(default=None, pattern=HOST_NAME)
    transport: Literal["http", "websocket"] = "http"
    #: payload `template`: the body and its pipeline (devicelab.model.templates)
    template: TemplateSpec | None = None

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not URL.match(value):
            raise ValueError("expected http(s)://host[:port]/path (templates: also tcp, udp, dns, quic) "
                             "with a lower-case host name")
        return value

    @model_validator(mode="after")
    def _sender(self) -> AppTraffic:
        if self.package is None and (self.process is None or self.uid is None):
            raise ValueError("name the sending `package`, or a native `process` with its `uid`")
        if self.pinned and not self.url.startswith("https://"):
            raise ValueError("only an https app can pin its certificate")
        if self.sni is not None and not self.url.startswith("https://"):
            raise ValueError("only an https app sends a TLS server name (`sni`)")
        if (self.payload == "template") != (self.template is not None):
            raise ValueError("a `template` goes with payload `template`, and only with it")
        if self.payload != "template" and self.scheme not in ("http", "https"):
            raise ValueError("tcp://, udp://, dns:// and quic:// URLs belong to template clients")
        if self.scheme in ("tcp", "udp") and not self._url()["port"]:
            raise ValueError(f"a {self.scheme}:// URL names its port")
        return self

    def _url(self) -> dict[str, str]:
        match = URL.match(self.url)
        assert match is not None  # checked by the validator
        return match.groupdict()

    @property
    def host(self) -> str:
        return self._url()["host"]

    @property
    def scheme(self) -> str:
        return self._url()["scheme"]

    @property
    def port(self) -> int | None:
        port = self._url()["port"]
        return int(port) if port else None

    @property
    def path(self) -> str:
        return self._url()["path"]


class Build(Frozen):
    """One firmware build."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    model: str
    sku: str
    region: str
    fingerprint: str
    security_patch: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    bootloader: Bootloader
    properties: dict[str, str] = Field(default_factory=dict)
    packages: tuple[Package, ...] = ()
    #: boot time of the virtual handset, in seconds of wall time
    boot_seconds: float = Field(default=1.0, ge=0.0, le=600.0)
    description: str = ""
    #: factory image zip (relative to fixtures/builds/); without one the image is generated
    image: str | None = None
    #: what the build's apps send over the network, and when (the virtual lab plays it)
    traffic: tuple[AppTraffic, ...] = ()
    #: who the build is for and how a lab reaches it (issue 14)
    access: Access = Access()
    #: its OTA package, for locked bootloaders (issue 14)
    ota: Ota = Ota()

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint_shape(cls, value: str) -> str:
        if not FINGERPRINT.match(value):
            raise ValueError("expected brand/name/device:release/id/incremental:type/tags")
        return value

    @model_validator(mode="after")
    def _unique_packages(self) -> Build:
        seen: set[str] = set()
        for pkg in self.packages:
            if pkg.name in seen:
                raise ValueError(f"package {pkg.name} is listed twice")
            seen.add(pkg.name)
        names: set[str] = set()
        for app in self.traffic:
            if app.name in names:
                raise ValueError(f"traffic {app.name} is listed twice")
            names.add(app.name)
            if app.package is not None and app.package not in seen:
                raise ValueError(f"traffic {app.name}: package {app.package} is not in the build's packages")
        return self

    @property
    def build_type(self) -> Literal["user", "userdebug", "eng"]:
        kind = self._parts()["type"]
        assert kind in ("user", "userdebug", "eng")
        return kind  # type: ignore[return-value]

    @property
    def kind(self) -> Literal["user", "userdebug", "eng", "lab"]:
        """`lab` for an OEM's QA build, else the fingerprint's build type."""
        return "lab" if self.access.kind == "lab" else self.build_type

    @property
    def display_id(self) -> str:
        return self._parts()["incremental"]

    @property
    def ota_key(self) -> str:
        """The key name this build's recovery verifies OTA packages with."""
        return self.ota.key or self._parts()["tags"]

    @property
    def build_date_utc(self) -> int:
        """`ro.build.date.utc`: recovery refuses a package older than this (no downgrades); the
        properties may set it, else midnight UTC of the security patch."""
        if "ro.build.date.utc" in self.properties:
            return int(self.properties["ro.build.date.utc"])
        return int(calendar.timegm(time.strptime(self.security_patch, "%Y-%m-%d")))

    def _parts(self) -> dict[str, str]:
        match = FINGERPRINT.match(self.fingerprint)
        assert match is not None  # checked by the validator
        return match.groupdict()

    def system_properties(self) -> dict[str, str]:
        """The build's `getprop` values: derived from the fingerprint, then `properties`."""
        p = self._parts()
        props = {
            "ro.build.fingerprint": self.fingerprint,
            "ro.product.brand": p["brand"],
            "ro.product.name": p["name"],
            "ro.product.device": p["device"],
            "ro.product.model": self.model,
            "ro.build.version.release": p["release"],
            "ro.build.id": p["id"],
            "ro.build.version.incremental": p["incremental"],
            "ro.build.display.id": p["incremental"],
            "ro.build.type": p["type"],
            "ro.build.tags": p["tags"],
            "ro.build.version.security_patch": self.security_patch,
            "ro.debuggable": "0" if p["type"] == "user" else "1",
            # AOSP: ro.secure on user and userdebug alike; adb root needs ro.debuggable
            "ro.secure": "0" if p["type"] == "eng" else "1",
            # AOSP sets it on user builds; an OEM sets it on a lab build that bakes the lab's key
            "ro.adb.secure": "1" if p["type"] == "user" or self.access.adb_keys else "0",
            "ro.bootloader": self.bootloader.version_bootloader,
            "ro.build.date.utc": str(self.build_date_utc),
            "ro.build.ab_update": "true",  # B2N is A/B: recovery installs into the other slot
            "gsm.version.baseband": self.bootloader.version_baseband,
        }
        props.update(self.properties)
        return props


def build_path(name: str, builds_dir: Path = BUILDS_DIR) -> Path:
    return builds_dir / f"{name}.yaml"


def available_builds(builds_dir: Path = BUILDS_DIR) -> list[str]:
    return sorted(p.stem for p in builds_dir.glob("*.yaml"))


def load_build_file(path: Path) -> Build:
    build = load(Build, path)
    if build.name != path.stem:
        raise ConfigError(str(path), "name", f"is {build.name!r} but the file is named {path.stem!r}")
    return build


@cache
def load_build(name: str, builds_dir: Path = BUILDS_DIR) -> Build:
    """Load a build by name (a file in `fixtures/builds/`), or by path to a manifest."""
    if name.endswith((".yaml", ".yml")):
        return load_build_file(Path(name))
    path = build_path(name, builds_dir)
    if not path.exists():
        known = ", ".join(available_builds(builds_dir)) or "none"
        raise ConfigError(str(path), "", f"unknown build {name!r}; known builds: {known}")
    return load_build_file(path)
