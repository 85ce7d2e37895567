"""Lab inventories (`fixtures/lab/*.yaml`): which handsets a lab has and how to reach them."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from devicelab.errors import ConfigError
from devicelab.model.builds import FIXTURES
from devicelab.model.data import Frozen, load
from devicelab.model.secret import RedactedRepr

if TYPE_CHECKING:
    from devicelab.model.identity import Identity

LAB_DIR = FIXTURES / "lab"
DEFAULT_LAB = LAB_DIR / "virtual.yaml"
#: How handsets reach the capture: an HTTP proxy setting, a WireGuard tunnel, or the lab's gateway
#: (devicelab routes the handset: every packet from power-on, no setting on the handset).
Mode = Literal["regular", "wireguard", "gateway"]


@dataclass(frozen=True)
class GatewayLink:
    """A handset's place behind the lab's gateway: where it is plugged and what the network tells it."""

    namespace: str  # virtual labs: the handset's network namespace; physical: the gateway interface
    address: str
    dns_server: str
    internet: str = ""  # the virtual internet's namespace (its UDP services answer there)
    udp_hosts: Mapping[str, str] = field(default_factory=dict)  # host name -> public address


class AdbServerSpec(Frozen):
    """An adb server: our private one (`managed`), or a remote one on a USB host."""

    host: str = "127.0.0.1"
    port: int = Field(default=5037, ge=1, le=65535)
    managed: bool = False
    #: listen on every interface; off by default (adb servers have no authentication)
    listen_all: bool = False


class AdbAddress(Frozen):
    server: str = "local"
    serial: str = Field(min_length=1)


class KnownIdentity(RedactedRepr, Frozen):
    """Identifiers the lab knows for a handset, to cross-check what the handset reports."""

    REDACTED: ClassVar[frozenset[str]] = frozenset({"imei", "serial", "wifi_mac", "bt_mac"})

    imei: tuple[str, ...] = ()
    serial: str | None = None
    wifi_mac: str | None = None
    bt_mac: str | None = None


#: how a physical handset is on the gateway host's network: a Wi-Fi access point (hostapd), USB
#: (the host gives the handset its network: RNDIS/NCM), or a switch port on a VLAN
GatewayKind = Literal["hostapd", "usb-tether", "vlan"]
IFNAME = r"^[A-Za-z0-9_.:@-]{1,15}$"  # Linux IFNAMSIZ, less the NUL


class GatewayInterface(Frozen):
    """A physical handset's place on the lab's own network (`handsets.N.gateway`): devicelab puts
    its capture rules on `interface` for the run. Addressing stays the lab's (hostapd/dnsmasq)."""

    interface: str = Field(pattern=IFNAME, description="the gateway host's interface the handset is on")
    kind: GatewayKind
    #: the handset's IPv4 address there (a DHCP reservation by its MAC): the rules and the record
    #: follow this address, so two handsets may share one access point
    address: str
    #: the interface toward the internet: devicelab masquerades what it forwards out of it. Empty:
    #: the host's own routing and NAT carry it (forwarding is the lab's to turn on, never devicelab's)
    uplink: str = Field(default="", pattern=r"^$|" + IFNAME)
    #: the network namespace the interface lives in; empty: the host's own
    netns: str = Field(default="", pattern=r"^$|^[A-Za-z0-9_.-]{1,64}$")

    @field_validator("address")
    @classmethod
    def _ipv4(cls, value: str) -> str:
        try:
            address = ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address (the handset's address on that network)") from None
        if address.is_loopback or address.is_multicast or address.is_unspecified:
            raise ValueError(f"{value} cannot be a handset's address")
        return str(address)

    @model_validator(mode="after")
    def _uplink_differs(self) -> GatewayInterface:
        if self.uplink and self.uplink == self.interface:
            raise ValueError("uplink: the handsets' interface cannot be its own uplink")
        return self


class HandsetEntry(RedactedRepr, Frozen):
    REDACTED: ClassVar[frozenset[str]] = frozenset({"serialno"})

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    serialno: str = Field(min_length=1, description="ro.serialno: how the lab names the handset")
    adb: AdbAddress
    fastboot: str = Field(min_length=1, description="tcp:HOST:PORT or a USB serial")
    model: str
    sku: str = ""
    region: str = ""
    sim: str | None = None
    known: KnownIdentity = KnownIdentity()
    tags: dict[str, str] = Field(default_factory=dict)
    #: physical labs, capture mode `gateway`: the gateway host's interface the handset is on
    gateway: GatewayInterface | None = None

    def matches(self, wanted: dict[str, str]) -> bool:
        """Whether this handset has every wanted tag (model, sku, region, sim, or a free tag)."""
        fields = {"model": self.model, "sku": self.sku, "region": self.region, "sim": self.sim or "none",
                  "id": self.id, "serialno": self.serialno}
        return all(str(fields.get(key, self.tags.get(key))) == str(value) for key, value in wanted.items())

    def known_identity(self) -> Identity:
        """The identifiers the lab knows for this handset, as far as they are well formed (for redaction)."""
        from devicelab.model.identity import Identity

        values = {"serial": (self.serialno, *((self.known.serial,) if self.known.serial else ())),
                  "imei": self.known.imei, "wifi_mac": (self.known.wifi_mac,) if self.known.wifi_mac else (),
                  "bt_mac": (self.known.bt_mac,) if self.known.bt_mac else ()}
        fields = {}
        for kind, found in values.items():
            try:  # one malformed value must not cost the others their redaction
                fields[kind] = getattr(Identity.model_validate({kind: found}), kind)
            except ValidationError:
                continue
        return Identity(**fields)

    @property
    def usb_host(self) -> str:
        """The host it is plugged into: its `host` tag, else the name of its adb server."""
        return self.tags.get("host") or self.adb.server

    def describe(self) -> str:
        tags = ", ".join(f"{k}={v}" for k, v in self.tags.items())
        return f"{self.id} ({self.model} {self.sku} {self.serialno}{'; ' + tags if tags else ''})"


class ProviderSpec(Frozen):
    """A source of handsets started on demand (the embedded virtual lab is one)."""

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    options: dict[str, Any] = Field(default_factory=dict)


class AllocatorSpec(Frozen):
    """Who hands out leases: this host's lock files (`local`), or a labgrid coordinator shared by
    every host and pipeline of a multi-host lab (`pip install devicelab[labgrid]`)."""

    kind: Literal["local", "labgrid"] = "local"
    coordinator: str = Field(default="", description="labgrid coordinator HOST:PORT")
    exporter: str | None = Field(default=None, description="labgrid exporter whose resources places match")

    @model_validator(mode="after")
    def _coordinator_given(self) -> AllocatorSpec:
        if self.kind == "labgrid" and not self.coordinator:
            raise ValueError("coordinator: a labgrid allocator needs the coordinator's HOST:PORT")
        return self


class Timeouts(Frozen):
    """Seconds; real handsets need minutes to boot, virtual ones seconds."""

    boot: float = Field(default=240.0, gt=0)
    shell: float = Field(default=30.0, gt=0)
    fastboot: float = Field(default=60.0, gt=0)
    flash: float = Field(default=900.0, gt=0)
    reboot_drop: float = Field(default=30.0, gt=0)
    lease: float = Field(default=600.0, ge=0)


class ProxySpec(Frozen):
    """The inventory's `proxy:` section: how this lab's handsets reach the capture."""

    mode: Mode = "regular"
    #: the address the proxy listens on; loopback unless the handsets are on another machine
    listen_host: str = "127.0.0.1"
    #: the address the handset dials, when it differs from listen_host (e.g. listening on 0.0.0.0)
    advertise_host: str | None = None
    canary_timeout: float = Field(default=30.0, gt=0)
    #: seconds between two reads of the handset's socket table
    sample_interval: float = Field(default=2.0, gt=0)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    #: handsets on USB reach a proxy on the host's loopback through `adb reverse` (their own
    #: 127.0.0.1 is themselves); the proxy then sees the adb server as every connection's peer
    adb_reverse: bool = False


@dataclass(frozen=True)
class UpstreamRouting:
    """What a lab tells the capture about its own servers (plain data; a real lab passes nothing)."""

    hosts: Mapping[str, tuple[str, int]] = field(default_factory=dict)  # host or host:port -> (ip, port)
    ca: Path | None = None  # the CA those servers' certificates chain to (PEM)
    only: bool = False  # refuse hosts outside `hosts` (a virtual lab never reaches the internet)
    #: address -> host name, for naming connections that bypassed the proxy (the lab's DNS, reversed)
    names: Mapping[str, str] = field(default_factory=dict)
    #: host names the lab's internet answers over UDP (NTP) behind a gateway
    udp: tuple[str, ...] = ()


class Inventory(Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    adb_servers: dict[str, AdbServerSpec] = Field(default_factory=lambda: {"local": AdbServerSpec()})
    provider: ProviderSpec | None = None
    handsets: tuple[HandsetEntry, ...] = ()
    timeouts: Timeouts = Timeouts()
    #: how handsets reach the capture proxy (loopback unless the handsets are elsewhere)
    proxy: ProxySpec = ProxySpec()
    allocator: AllocatorSpec = AllocatorSpec()

    @model_validator(mode="after")
    def _consistent(self) -> Inventory:
        ids: set[str] = set()
        for index, entry in enumerate(self.handsets):
            if entry.id in ids:
                raise ValueError(f"handsets.{index}.id: {entry.id!r} is listed twice")
            ids.add(entry.id)
            if entry.adb.server not in self.adb_servers:
                raise ValueError(f"handsets.{index}.adb.server: no adb server named {entry.adb.server!r}")
        places = [(i, e.gateway) for i, e in enumerate(self.handsets) if e.gateway is not None]
        for index, place in places:
            twin = next((i for i, other in places if i < index and (other.netns, other.address) ==
                         (place.netns, place.address)), None)
            if twin is not None:
                raise ValueError(f"handsets.{index}.gateway.address: {place.address} is handsets.{twin}'s address "
                                 "too: the rules and the packet record follow a handset by its address")
        if not self.handsets and self.provider is None:
            raise ValueError("a lab needs handsets or a provider")
        return self

    @cached_property
    def source(self) -> str:
        return self.name


def load_inventory(path: Path | str | None = None) -> Inventory:
    """Load a lab inventory; the default is the embedded virtual lab."""
    target = Path(path) if path is not None else DEFAULT_LAB
    if not target.exists() and not target.suffix:
        target = LAB_DIR / f"{target}.yaml"
    inventory = load(Inventory, target)
    if inventory.provider is None:
        for index, entry in enumerate(inventory.handsets):
            if entry.sim is not None:
                from devicelab.model.sims import load_sim

                try:
                    load_sim(entry.sim)
                except ConfigError as exc:
                    raise ConfigError(str(target), f"handsets.{index}.sim", exc.problem) from None
    return inventory
