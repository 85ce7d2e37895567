"""The public-looking addresses the lab's internet answers at behind the gateway.

Names get addresses in 198.18.0.0/15 (RFC 2544's benchmarking range: never routed on the
internet), the same every run for the same names: a pcap of one run reads like the next.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from collections.abc import Iterable, Mapping

NETWORK = ipaddress.IPv4Network("198.18.0.0/15")


def assign(names: Iterable[str]) -> dict[str, str]:
    """name -> address, distinct for distinct names (a collision moves to the next free address)."""
    book = Book({})
    return {name: book.address(name) for name in sorted({n.lower().rstrip(".") for n in names if n})}


class Book:
    """The resolver's view: the lab's names first; any other name gets an address of the range on
    first ask (the rest of the internet: reachable, but nothing the lab serves answers there)."""

    def __init__(self, known: Mapping[str, str]) -> None:
        self.names = dict(known)
        self._taken = {int(ipaddress.IPv4Address(a)) - int(NETWORK.network_address) for a in known.values()}
        self._lock = threading.Lock()

    def address(self, name: str) -> str:
        name = name.lower().rstrip(".")
        with self._lock:
            found = self.names.get(name)
            if found is None:
                size = NETWORK.num_addresses
                slot = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % size
                while slot in self._taken or slot % 256 in (0, 255):
                    slot = (slot + 1) % size
                self._taken.add(slot)
                found = self.names[name] = str(NETWORK.network_address + slot)
            return found

    def lookup(self, name: str) -> str | None:
        """A resolver's upstream: every well-formed name has an address."""
        return self.address(name) if name and len(name) <= 253 else None
