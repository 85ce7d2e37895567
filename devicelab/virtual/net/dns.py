"""The lab's DNS: host name -> the loopback address where that host's responder listens.

It is the only resolver the virtual handset has. Names it does not know get NXDOMAIN; the
host's real resolver is never asked, so nothing a virtual app sends can leave the machine.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import deque
from collections.abc import Iterable

HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class NameNotResolved(Exception):
    """NXDOMAIN: the lab knows no such host."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: NXDOMAIN")
        self.name = name


def display_address(host: str) -> str:
    """The address a host has in the handset's socket table: one per name in 198.18.0.0/15 (the
    benchmarking range), as a real handset shows the server's public address, while the socket really
    goes to the host's loopback responder."""
    digest = int(hashlib.sha256(host.lower().encode()).hexdigest()[:8], 16)
    return f"198.{18 + (digest >> 16 & 1)}.{digest >> 8 & 0xFF}.{digest & 0xFF}"


def normalize(name: str) -> str:
    """Lower-case, without the trailing root dot; ValueError for something that is no host name."""
    host = name.strip().lower().rstrip(".")
    if not HOSTNAME.match(host):
        raise ValueError(f"not a host name: {name!r}")
    return host


class LabResolver:
    """Name -> (127.0.0.1, port). Aliases (an IP literal a firmware falls back to, a CNAME) map
    to the same responder."""

    def __init__(self) -> None:
        self._records: dict[str, tuple[str, int]] = {}
        self.queries: deque[str] = deque(maxlen=10_000)  # names asked for, in order (tests, debugging)

    def add(self, name: str, address: tuple[str, int], aliases: Iterable[str] = ()) -> None:
        for each in (name, *aliases):
            key = each if is_ip(each) else normalize(each)
            self._records[key] = address

    def remove(self, name: str) -> None:
        self._records.pop(name.lower().rstrip("."), None)

    def resolve(self, name: str) -> tuple[str, int]:
        """The responder address for `name`; NameNotResolved for anything the lab does not serve
        (an IP literal included: the lab never routes to a real address)."""
        self.queries.append(name)
        key = name.strip().lower().rstrip(".")
        if key.startswith("[") and key.endswith("]"):
            key = key[1:-1]
        address = self._records.get(key)
        if address is None:
            raise NameNotResolved(name)
        return address

    def records(self) -> dict[str, tuple[str, int]]:
        return dict(self._records)


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
