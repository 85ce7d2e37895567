"""Coverage from the handset's own socket table: what bypassed the proxy, and which app owns a flow.

Pure functions over `/proc/net/{tcp,tcp6,udp,udp6}` text and `pm list packages -U`. A socket whose
remote end is neither the proxy nor loopback reached the network without the capture: a coverage
gap, named with its uid and package. The handset's port of a connection to the proxy is the port
the proxy sees as the client's, so the same table attributes flows to apps.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: /proc/net/tcp `st` codes (include/net/tcp_states.h)
TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
    "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
    "0C": "NEW_SYN_RECV",
}
#: Android's fixed uids (system/core/libcutils/include/private/android_filesystem_config.h)
ANDROID_UIDS = {
    0: "root", 1000: "system", 1001: "radio", 1002: "bluetooth", 1010: "wifi", 1013: "media", 1016: "vpn",
    1019: "drm", 1021: "gps", 1027: "nfc", 1051: "dns", 1052: "dns_tether", 1073: "network_stack",
    2000: "shell", 9999: "nobody",
}
PROC_NET_FILES = ("tcp", "tcp6", "udp", "udp6")
#: States of sockets that carry (or carried) traffic to their remote address
_ACTIVE = {"ESTABLISHED", "SYN_SENT", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "CLOSING"}
_LINE = re.compile(r"^\s*\d+:\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})"
                   r"\s+\S+\s+\S+\s+\S+\s+(\d+)\s+\d+\s+(\d+)")
_PACKAGE = re.compile(r"^package:(\S+)\s+uid:([\d,]+)")


@dataclass(frozen=True, slots=True)
class Socket:
    """One row of /proc/net/{tcp,tcp6,udp,udp6}; IPv4-mapped IPv6 addresses shown as IPv4."""

    proto: str  # tcp or udp
    local_ip: str
    local_port: int
    remote_ip: str
    remote_port: int
    state: str
    uid: int
    inode: int

    @property
    def remote(self) -> str:
        ip = f"[{self.remote_ip}]" if ":" in self.remote_ip else self.remote_ip
        return f"{ip}:{self.remote_port}"

    def to_row(self) -> list[str | int]:
        return [self.proto, self.local_ip, self.local_port, self.remote_ip, self.remote_port, self.state, self.uid,
                self.inode]

    @classmethod
    def from_row(cls, row: list[object]) -> Socket:
        proto, lip, lport, rip, rport, state, uid, inode = row
        return cls(str(proto), str(lip), int(str(lport)), str(rip), int(str(rport)), str(state), int(str(uid)),
                   int(str(inode)))


def decode_address(hex_ip: str, hex_port: str) -> tuple[str, int]:
    """The kernel's hex address (host byte order words, little-endian here) as text and port."""
    raw = bytes.fromhex(hex_ip)
    if len(raw) not in (4, 16):
        raise ValueError(f"address of {len(raw)} bytes")
    # each 32-bit word is printed in host order: reverse every 4 bytes
    packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(packed)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), int(hex_port, 16)


def parse_proc_net(text: str, name: str) -> list[Socket]:
    """Rows of one /proc/net file (`name`: tcp, tcp6, udp, udp6); the header and odd lines skipped."""
    proto = "udp" if name.startswith("udp") else "tcp"
    sockets: list[Socket] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        lip, lport, rip, rport, state, uid, inode = match.groups()
        try:
            local = decode_address(lip, lport)
            remote = decode_address(rip, rport)
        except ValueError:
            continue
        if proto == "tcp":
            state_name = TCP_STATES.get(state.upper(), state)
        else:
            state_name = "CONNECTED" if state == "01" else "UNCONN"
        sockets.append(Socket(proto, *local, *remote, state_name, int(uid), int(inode)))
    return sockets


def parse_packages(text: str) -> dict[int, tuple[str, ...]]:
    """`pm list packages -U` as uid -> packages (several share a uid: android.uid.system)."""
    by_uid: dict[int, list[str]] = {}
    for line in text.splitlines():
        match = _PACKAGE.match(line.strip())
        if match is None:
            continue
        for uid in match.group(2).split(","):
            if uid:
                by_uid.setdefault(int(uid), []).append(match.group(1))
    return {uid: tuple(sorted(names)) for uid, names in by_uid.items()}


def uid_name(uid: int, packages: Mapping[int, tuple[str, ...]]) -> str:
    """A package for an app uid; for shared uids the first package and how many share it."""
    names = packages.get(uid) or packages.get(uid % 100_000) or ()
    if len(names) == 1:
        return names[0]
    if names:
        return f"{names[0]} (+{len(names) - 1} sharing uid {uid})"
    return ANDROID_UIDS.get(uid % 100_000, f"uid:{uid}")


def _loopback(ip: str) -> bool:
    return ipaddress.ip_address(ip).is_loopback


def _loopback_or_unset(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    return addr.is_loopback or addr.is_unspecified


@dataclass(frozen=True)
class ProxyView:
    """How traffic reaches the capture from the handset: the proxy's address, or the tunnel's."""

    proxy: tuple[str, int] | None = None  # regular mode: what the handset dials
    tunnel_ip: str | None = None  # wireguard: the handset's address inside the tunnel

    def covers(self, sock: Socket) -> bool:
        if self.tunnel_ip is not None and sock.local_ip == self.tunnel_ip:
            return True
        return self.proxy is not None and sock.remote_port == self.proxy[1] and (
            sock.remote_ip == self.proxy[0] or _loopback_or_unset(sock.remote_ip))

    def is_proxy_connection(self, sock: Socket) -> bool:
        return sock.proto == "tcp" and sock.state != "LISTEN" and self.covers(sock)


@dataclass(frozen=True, slots=True)
class Bypass:
    """A socket that reached the network without the capture."""

    socket: Socket
    app: str
    #: plain DNS to the resolver (host names only, as every regular-mode handset sends): a UDP
    #: datagram socket to port 53. TCP to port 53 is not taken for DNS: the port alone proves
    #: nothing, and a client that speaks HTTP there must be a gap (the audit's F1)
    dns: bool

    @property
    def unconnected(self) -> bool:
        """A UDP socket that never called connect(): it sends with sendto() to any address, and the
        socket table shows none of them."""
        return self.socket.proto == "udp" and self.socket.state == "UNCONN"

    def describe(self) -> str:
        if self.unconnected:
            return (f"{self.app} (uid {self.socket.uid}) unconnected udp on local port {self.socket.local_port}: "
                    "its datagrams (sendto) may go to any address, none is in the socket table")
        return f"{self.app} (uid {self.socket.uid}) {self.socket.proto} to {self.socket.remote} [{self.socket.state}]"


def find_bypasses(sockets: Iterable[Socket], view: ProxyView, packages: Mapping[int, tuple[str, ...]]) -> list[Bypass]:
    """Sockets with a remote end that is neither the capture nor loopback, one per (uid, remote); and
    unconnected UDP sockets not bound to loopback, one per (uid, local port): what they send is unseen."""
    seen: set[tuple[str, int, str, int]] = set()
    found: list[Bypass] = []
    for sock in sockets:
        if sock.proto == "tcp" and sock.state not in _ACTIVE:
            continue
        if sock.proto == "udp" and sock.state == "UNCONN":
            if _loopback(sock.local_ip) or not sock.local_port or view.covers(sock):
                continue
            key = (sock.proto, sock.uid, "sendto", sock.local_port)
        elif _loopback_or_unset(sock.remote_ip) or sock.remote_port == 0 or view.covers(sock):
            continue
        else:
            key = (sock.proto, sock.uid, sock.remote_ip, sock.remote_port)
        if key in seen:
            continue
        seen.add(key)
        # TIME_WAIT rows no longer carry their owner: the kernel reports uid 0
        app = "unknown (closed socket)" if sock.state == "TIME_WAIT" and sock.uid == 0 else uid_name(sock.uid, packages)
        found.append(Bypass(sock, app, is_plain_dns(sock)))
    return found


def is_plain_dns(sock: Socket) -> bool:
    """A socket the stub resolver would use: UDP to port 53. What it carries is not visible in the
    socket table, so anything else on port 53 is an ordinary connection around the proxy."""
    return sock.proto == "udp" and sock.remote_port == 53


@dataclass(frozen=True, slots=True)
class Sighting:
    """A socket as first seen at host time `ts`."""

    ts: float
    socket: Socket


class Attribution:
    """Which app owned the handset end of a proxy connection, by its port (nearest sighting in time)."""

    def __init__(self, sightings: Iterable[Sighting], view: ProxyView, packages: Mapping[int, tuple[str, ...]]) -> None:
        self.packages = packages
        self._by_port: dict[int, list[Sighting]] = {}
        for sighting in sightings:
            sock = sighting.socket
            if sock.state == "TIME_WAIT" and sock.uid == 0:
                continue  # the kernel shows closed sockets as root's: no owner to learn from them
            if view.is_proxy_connection(sock):
                self._by_port.setdefault(sighting.socket.local_port, []).append(sighting)

    def uid(self, client_port: int, ts: float | None = None) -> int | None:
        found = self._by_port.get(client_port)
        if not found:
            return None
        if ts is None:
            return found[-1].socket.uid
        return min(found, key=lambda s: abs(s.ts - ts)).socket.uid

    def app(self, client_port: int, ts: float | None = None) -> str | None:
        uid = self.uid(client_port, ts)
        return None if uid is None else uid_name(uid, self.packages)
