"""The handset's global HTTP proxy (`settings put global http_proxy host:port`) and the rule
that keeps a virtual handset on this machine: it reaches a proxy only at a local address."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class ProxySetting:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def global_proxy(settings: Mapping[str, str]) -> ProxySetting | None:
    """The proxy apps use, or None for direct connections.

    `http_proxy` wins (empty or `:0` means none, as Android treats them); otherwise the
    `global_http_proxy_host`/`_port` pair that Settings' UI writes. A value Android could not
    parse means no proxy.
    """
    value = settings.get("http_proxy", "").strip()
    if value:
        host, sep, port = value.rpartition(":")
        return _setting(host if sep else value, port if sep else "")
    return _setting(settings.get("global_http_proxy_host", "").strip(),
                    settings.get("global_http_proxy_port", "").strip())


def _setting(host: str, port: str) -> ProxySetting | None:
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return ProxySetting(host, int(port))


@lru_cache(maxsize=256)
def is_local_address(host: str) -> bool:
    """True for loopback and this machine's own addresses (a socket can bind to them); a name
    or a remote address is not local. Nothing is sent: binding port 0 only asks the kernel."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as probe:
        try:
            probe.bind((host, 0))
        except OSError:
            return False
    return True
