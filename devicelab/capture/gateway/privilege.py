"""The gateway needs CAP_NET_ADMIN (namespaces, veths, nftables, packet sockets): say so clearly."""

from __future__ import annotations

from devicelab.errors import CaptureError

CAP_NET_ADMIN = 12
CAP_NET_RAW = 13  # the packet record's AF_PACKET socket
CAP_SYS_ADMIN = 21  # creating, mounting and entering a named network namespace
BITS = {"CAP_NET_ADMIN": CAP_NET_ADMIN, "CAP_NET_RAW": CAP_NET_RAW, "CAP_SYS_ADMIN": CAP_SYS_ADMIN}
#: what the namespaces' gateway needs; rules on a lab's own interface need no namespace
NAMESPACES = ("CAP_NET_ADMIN", "CAP_SYS_ADMIN")
INTERFACE = ("CAP_NET_ADMIN", "CAP_NET_RAW")


class GatewayPrivilegeError(CaptureError):
    """The process lacks a capability the gateway needs (an infrastructure error: exit 3)."""

    capability: str


def effective_capabilities() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def missing(needed: tuple[str, ...] = NAMESPACES) -> list[str]:
    """The capabilities of `needed` this process does not have (empty: all there)."""
    caps = effective_capabilities()
    return [name for name in needed if not caps >> BITS[name] & 1]


def require(needed: tuple[str, ...] = NAMESPACES, *, what: str = "network namespaces, veth pairs, nftables "
            "and packet sockets") -> None:
    lacking = missing(needed)
    if lacking:
        raise GatewayPrivilegeError(
            f"capture mode 'gateway' needs {' and '.join(lacking)} ({what}): run as root, or grant it "
            "(setcap / a container with NET_ADMIN)", capability=lacking[0])
