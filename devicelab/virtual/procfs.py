"""Files the kernel generates on the virtual handset (/proc, /sys): the socket tables in the
exact layout of Linux 4.4's /proc/net/{tcp,tcp6,udp,udp6}, uptime, the Wi-Fi MAC, boot id."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable

from devicelab.virtual.android import ANY4, AndroidSystem, SocketEntry

TCP_STATES = {
    "ESTABLISHED": 0x01, "SYN_SENT": 0x02, "SYN_RECV": 0x03, "FIN_WAIT1": 0x04, "FIN_WAIT2": 0x05,
    "TIME_WAIT": 0x06, "CLOSE": 0x07, "CLOSE_WAIT": 0x08, "LAST_ACK": 0x09, "LISTEN": 0x0A, "CLOSING": 0x0B,
}
TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
TCP6_HEADER = ("  sl  local_address                         remote_address                        st tx_queue "
               "rx_queue tr tm->when retrnsmt   uid  timeout inode")
UDP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
              "pointer drops")
POINTER = "0000000000000000"  # %pK as an unprivileged reader sees it (kptr_restrict)


def hex4(address: str) -> str:
    """An IPv4 address as the kernel prints a __be32 with %08X on a little-endian CPU."""
    (value,) = struct.unpack("<I", ipaddress.IPv4Address(address).packed)
    return f"{value:08X}"


def hex6(address: str) -> str:
    """An IPv6 address as four host-order 32-bit words (IPv4 becomes ::ffff:a.b.c.d)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        ip = ipaddress.IPv6Address(f"::ffff:{ip}")
    words = struct.unpack("<4I", ip.packed)
    return "".join(f"{w:08X}" for w in words)


def _family(entry: SocketEntry) -> int:
    try:
        version = ipaddress.ip_address(entry.local[0]).version
    except ValueError:
        return 4
    return 6 if version == 6 or entry.proto.endswith("6") else 4


def _select(sockets: Iterable[SocketEntry], proto: str, family: int) -> list[SocketEntry]:
    return [s for s in sockets if s.proto.rstrip("6") == proto and _family(s) == family]


def tcp4_table(sockets: Iterable[SocketEntry]) -> str:
    """/proc/net/tcp: every line padded to 149 columns, as tcp4_seq_show() does."""
    lines = [f"{TCP_HEADER:<149}"]
    for index, s in enumerate(_select(sockets, "tcp", 4)):
        state = TCP_STATES.get(s.state, 0x07)
        local = f"{hex4(s.local[0])}:{s.local[1]:04X}"
        remote = f"{hex4(s.remote[0] or ANY4)}:{s.remote[1]:04X}"
        if s.state == "TIME_WAIT":
            row = (f"{index:4d}: {local} {remote} {state:02X} 00000000:00000000 03:00000D3A 00000000 "
                   f"{0:5d} {0:8d} 0 3 {POINTER}")
        else:
            timer = "00:00000000" if s.state == "LISTEN" else "02:0000E4B1"
            row = (f"{index:4d}: {local} {remote} {state:02X} 00000000:00000000 {timer} 00000000 "
                   f"{s.uid:5d} {0:8d} {s.inode} 1 {POINTER} 20 4 30 10 -1")
        lines.append(f"{row:<149}")
    return "\n".join(lines) + "\n"


def tcp6_table(sockets: Iterable[SocketEntry]) -> str:
    """/proc/net/tcp6 (no padding in the IPv6 table)."""
    lines = [TCP6_HEADER]
    for index, s in enumerate(_select(sockets, "tcp", 6)):
        state = TCP_STATES.get(s.state, 0x07)
        local = f"{hex6(s.local[0])}:{s.local[1]:04X}"
        remote = f"{hex6(s.remote[0] or '::')}:{s.remote[1]:04X}"
        if s.state == "TIME_WAIT":
            lines.append(f"{index:4d}: {local} {remote} {state:02X} 00000000:00000000 03:00000D3A 00000000 "
                         f"{0:5d} {0:8d} 0 3 {POINTER}")
        else:
            timer = "00:00000000" if s.state == "LISTEN" else "02:0000E4B1"
            lines.append(f"{index:4d}: {local} {remote} {state:02X} 00000000:00000000 {timer} 00000000 "
                         f"{s.uid:5d} {0:8d} {s.inode} 1 {POINTER} 20 4 30 10 -1")
    return "\n".join(lines) + "\n"


def udp_table(sockets: Iterable[SocketEntry], family: int) -> str:
    """/proc/net/udp (lines padded to 127 columns) or /proc/net/udp6."""
    header = UDP_HEADER if family == 4 else UDP_HEADER.replace(
        "local_address rem_address  ", "local_address                         remote_address                       ")
    lines = [f"{header:<127}" if family == 4 else header]
    for s in _select(sockets, "udp", family):
        state = 0x01 if s.state == "ESTABLISHED" else 0x07
        to_hex, any_address = (hex4, ANY4) if family == 4 else (hex6, "::")
        row = (f"{s.local[1] % 128:5d}: {to_hex(s.local[0])}:{s.local[1]:04X} "
               f"{to_hex(s.remote[0] or any_address)}:{s.remote[1]:04X} {state:02X} 00000000:00000000 "
               f"00:00000000 00000000 {s.uid:5d} {0:8d} {s.inode} 2 {POINTER} 0")
        lines.append(f"{row:<127}" if family == 4 else row)
    return "\n".join(lines) + "\n"


def install(system: AndroidSystem) -> None:
    """Register the generated files of a freshly booted system in its file system."""
    fs = system.fs
    fs.register_dynamic("/proc/net/tcp", lambda: tcp4_table(system.sockets).encode())
    fs.register_dynamic("/proc/net/tcp6", lambda: tcp6_table(system.sockets).encode())
    fs.register_dynamic("/proc/net/udp", lambda: udp_table(system.sockets, 4).encode())
    fs.register_dynamic("/proc/net/udp6", lambda: udp_table(system.sockets, 6).encode())
    fs.register_dynamic("/proc/uptime", lambda: _uptime(system))
    fs.register_dynamic("/proc/version", lambda: (
        "Linux version 4.4.153-perf+ (cm@cm-build-c23) (gcc version 4.9.x 20150123 (prerelease) (GCC) ) "
        f"#1 SMP PREEMPT {system.getprop('ro.build.date')}\n").encode())
    fs.register_dynamic("/proc/sys/kernel/random/boot_id", lambda: f"{system.boot_id}\n".encode())
    fs.register_dynamic("/sys/class/net/wlan0/address", lambda: f"{system.hardware.wifi_mac}\n".encode())
    fs.register_dynamic("/sys/class/net/wlan0/operstate",
                        lambda: b"up\n" if system.radio.wifi_enabled and system.radio.wifi_connected else b"down\n")


def _uptime(system: AndroidSystem) -> bytes:
    up = system.clock.elapsed_realtime()
    return f"{up:.2f} {up * 6.5:.2f}\n".encode()
