"""The gateway needs CAP_NET_ADMIN (namespaces, veths, nftables, packet sockets): say so clearly."""

from __future__ import annotations

from devicelab.errors import CaptureError

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21  # creating and mounting a named network namespace


class GatewayPrivilegeError(CaptureError):
    """The process lacks a capability the gateway needs (an infrastructure error: exit 3)."""

    capability: str


def effective_capabilities() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def missing() -> list[str]:
    """The capabilities the gateway needs that this process does not have (empty: all there)."""
    caps = effective_capabilities()
    return [name for name, bit in (("CAP_NET_ADMIN", CAP_NET_ADMIN), ("CAP_SYS_ADMIN", CAP_SYS_ADMIN))
            if not caps >> bit & 1]


def require() -> None:
    lacking = missing()
    if lacking:
        raise GatewayPrivilegeError(
            f"capture mode 'gateway' needs {' and '.join(lacking)} (network namespaces, veth pairs, nftables "
            "and packet sockets): run as root, or grant it (setcap / a container with NET_ADMIN)",
            capability=lacking[0])
