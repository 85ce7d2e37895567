"""What a capture is asked to do, checked before anything starts (bad values: one clear error)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn, get_args

from devicelab.errors import ConfigError
from devicelab.model.inventory import Mode, ProxySpec, UpstreamRouting
from devicelab.model.policy import Policy, host_matches, normalize_host

Strategy = Literal["lazy", "eager"]
CANARY_HOST = "canary.devicelab.test"
_SOURCE = "capture options"
_HOST_GLOB = re.compile(r"[a-z0-9*?]([a-z0-9*?.:-]*[a-z0-9*?])?")


@dataclass(frozen=True)
class HostRule:
    """A set of hosts: glob patterns (as in policies: `*.vnet.cn`) and/or a predicate on the host name."""

    patterns: tuple[str, ...] = ()
    predicate: Callable[[str], bool] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        for pattern in self.patterns:
            if not isinstance(pattern, str) or not _HOST_GLOB.fullmatch(pattern.strip().lower()):
                raise ConfigError(_SOURCE, "sinkhole", f"{pattern!r} is not a host name or glob")

    @classmethod
    def unapproved_by(cls, policy: Policy) -> HostRule:
        """Every host the policy does not approve (forbidden ones included)."""
        return cls(predicate=lambda host: not policy.is_approved(host), description=f"unapproved by {policy.name}")

    def matches(self, host: str) -> bool:
        if not host:
            return False
        host = normalize_host(host)
        if any(host_matches(pattern.strip().lower(), host) for pattern in self.patterns):
            return True
        return self.predicate is not None and self.predicate(host)

    def describe(self) -> str:
        return self.description or ", ".join(self.patterns) or "a predicate"


@dataclass(frozen=True)
class CaptureConfig:
    """One capture's settings; `check()` raises ConfigError naming the first bad option."""

    mode: Mode = "regular"
    listen_host: str = "127.0.0.1"
    advertise_host: str | None = None
    #: hosts answered by the proxy itself: nothing reaches them (reproducing a leak must not leak again)
    sinkhole: HostRule | None = None
    #: lab routing: host (or host:port) -> (ip, port) the proxy dials instead; empty: real DNS
    upstream_hosts: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    #: extra CA the lab's upstream servers use (PEM)
    upstream_ca: Path | None = None
    #: refuse hosts missing from upstream_hosts instead of resolving them (a virtual lab never goes out)
    upstream_only: bool = False
    #: address -> host name the lab's DNS gives it (names connections that bypass the proxy)
    upstream_names: Mapping[str, str] = field(default_factory=dict)
    #: gateway mode: host names the lab's internet answers over UDP (its resolver gives them addresses too)
    upstream_udp: tuple[str, ...] = ()
    canary_host: str = CANARY_HOST
    #: the handset dials its own loopback, which `adb reverse` leads to the proxy (a phone on USB)
    adb_reverse: bool = False
    max_body_bytes: int = 4 * 1024 * 1024
    max_stream_bytes: int = 4 * 1024 * 1024  # client bytes kept per raw TCP/UDP flow
    connection_strategy: Strategy = "lazy"
    start_timeout: float = 15.0
    stop_timeout: float = 10.0
    label: str = ""  # names the run in the CA subject and the log header (the handset's serial)

    def check(self) -> CaptureConfig:
        if self.mode not in get_args(Mode):
            _bad("mode", f"expected one of {', '.join(get_args(Mode))}, got {self.mode!r}")
        if self.mode == "gateway" and not ipaddress.ip_address(self.listen_host).is_loopback:
            _bad("listen_host", "gateway mode relays every connection to the proxy on loopback: use 127.0.0.1")
        if self.connection_strategy not in get_args(Strategy):
            _bad("connection_strategy", f"expected lazy or eager, got {self.connection_strategy!r}")
        if self.sinkhole is not None and self.connection_strategy != "lazy":
            # eager connects upstream at CONNECT time, before the sinkhole's hook can answer
            _bad("connection_strategy", "a sinkhole needs 'lazy': 'eager' contacts the host before the hook runs")
        _ip("listen_host", self.listen_host)
        if self.advertise_host is not None:
            _ip("advertise_host", self.advertise_host)
        elif ipaddress.ip_address(self.listen_host).is_unspecified:
            _bad("advertise_host", f"required when listening on {self.listen_host}: the handset needs one address")
        if self.adb_reverse and (self.mode != "regular" or not ipaddress.ip_address(self.dial_host).is_loopback):
            _bad("adb_reverse", f"needs a regular proxy the handset dials on loopback, not {self.mode} at "
                 f"{self.dial_host}")
        for name in ("max_body_bytes", "max_stream_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                _bad(name, f"expected a positive number of bytes, got {value!r}")
        for name in ("start_timeout", "stop_timeout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                _bad(name, f"expected positive seconds, got {value!r}")
        for host, target in self.upstream_hosts.items():
            _target(host, target)
        if self.upstream_ca is not None and not Path(self.upstream_ca).is_file():
            _bad("upstream_ca", f"{self.upstream_ca} is not a file")
        if not self.canary_host or not _HOST_GLOB.fullmatch(self.canary_host) or "*" in self.canary_host:
            _bad("canary_host", f"expected a lower-case host name, got {self.canary_host!r}")
        return self

    @classmethod
    def for_lab(cls, proxy: ProxySpec, upstream: UpstreamRouting, *, label: str, mode: Mode | None = None,
                sinkhole: HostRule | None = None) -> CaptureConfig:
        """The capture a lab's handset gets: the inventory's `proxy:` section and the lab's own servers.
        `adb reverse` is how USB handsets reach a regular proxy; a run behind the gateway or the
        WireGuard tunnel (`--capture`) reaches its capture by the network instead."""
        mode = mode or proxy.mode
        return cls(mode=mode, listen_host=proxy.listen_host, advertise_host=proxy.advertise_host,
                   sinkhole=sinkhole, upstream_hosts=dict(upstream.hosts), upstream_ca=upstream.ca,
                   upstream_only=upstream.only, upstream_names=dict(upstream.names), upstream_udp=tuple(upstream.udp),
                   max_body_bytes=proxy.max_body_bytes, adb_reverse=proxy.adb_reverse and mode == "regular",
                   label=label).check()

    @property
    def dial_host(self) -> str:
        """The address the handset is told to use."""
        return self.advertise_host or self.listen_host


def _bad(option: str, problem: str) -> NoReturn:
    raise ConfigError(_SOURCE, option, problem)


def _ip(option: str, value: object) -> None:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        _bad(option, f"expected an IP address, got {value!r}")


def _target(host: object, target: object) -> None:
    where = f"upstream_hosts.{host}"
    if not isinstance(host, str) or not host:
        _bad("upstream_hosts", f"expected host names as keys, got {host!r}")
    if not (isinstance(target, tuple | list) and len(target) == 2):
        _bad(where, f"expected (ip, port), got {target!r}")
    ip, port = target
    _ip(where, ip)
    if not isinstance(port, int) or not 0 < port < 65536:
        _bad(where, f"expected a port 1-65535, got {port!r}")
