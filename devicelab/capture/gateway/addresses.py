"""The public-looking addresses the lab's internet answers at behind the gateway.

Names get addresses in 198.18.0.0/15 (RFC 2544's benchmarking range: never routed on the
internet), the same every run for the same names: a pcap of one run reads like the next.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable

NETWORK = ipaddress.IPv4Network("198.18.0.0/15")


def assign(names: Iterable[str]) -> dict[str, str]:
    """name -> address, distinct for distinct names (a collision moves to the next free address)."""
    taken: set[int] = set()
    result: dict[str, str] = {}
    size = NETWORK.num_addresses
    for name in sorted({n.lower().rstrip(".") for n in names if n}):
        slot = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % size
        while slot in taken or slot % 256 in (0, 255):
            slot = (slot + 1) % size
        taken.add(slot)
        result[name] = str(NETWORK.network_address + slot)
    return result
