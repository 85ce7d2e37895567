"""/proc and /sys of the virtual handset: the socket tables in the kernel's exact layout (parsed
back the way netstat-like tools parse them), the Wi-Fi MAC, uptime."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import struct
from collections.abc import Callable

from devicelab.virtual.android import SocketEntry
from devicelab.virtual.procfs import TCP_STATES, tcp4_table, tcp6_table, udp_table
from tests.virtual.shell_helpers import boot, out

ROW4 = re.compile(
    r"^\s*(\d+): ([0-9A-F]{8}):([0-9A-F]{4}) ([0-9A-F]{8}):([0-9A-F]{4}) ([0-9A-F]{2}) [0-9A-F]{8}:[0-9A-F]{8} "
    r"[0-9A-F]{2}:[0-9A-F]{8} [0-9A-F]{8}\s+(\d+)\s+\d+ (\d+)"
)
ROW6 = re.compile(
    r"^\s*(\d+): ([0-9A-F]{32}):([0-9A-F]{4}) ([0-9A-F]{32}):([0-9A-F]{4}) ([0-9A-F]{2}) [0-9A-F]{8}:[0-9A-F]{8} "
    r"[0-9A-F]{2}:[0-9A-F]{8} [0-9A-F]{8}\s+(\d+)\s+\d+ (\d+)"
)
STATE_NAMES = {code: name for name, code in TCP_STATES.items()}


def ipv4(word: str) -> str:
    return str(ipaddress.IPv4Address(struct.pack("<I", int(word, 16))))


def ipv6(words: str) -> str:
    packed = b"".join(struct.pack("<I", int(words[i : i + 8], 16)) for i in range(0, 32, 8))
    return str(ipaddress.IPv6Address(packed))


Row = tuple[str, int, str, int, str, int, int]


def parse(table: str, row: re.Pattern[str], addr: Callable[[str], str]) -> list[Row]:
    sockets: list[Row] = []
    for line in table.splitlines()[1:]:
        match = row.match(line)
        assert match, line
        _, local, lport, remote, rport, state, uid, inode = match.groups()
        sockets.append((addr(local), int(lport, 16), addr(remote), int(rport, 16),
                        STATE_NAMES[int(state, 16)], int(uid), int(inode)))
    return sockets


SOCKETS = [
    SocketEntry("tcp", ("192.168.49.23", 41822), ("115.239.210.27", 80), "ESTABLISHED", 10070, 51234),
    SocketEntry("tcp", ("127.0.0.1", 9008), ("0.0.0.0", 0), "LISTEN", 2000, 51235),
    SocketEntry("tcp6", ("::ffff:192.168.49.23", 50210), ("::ffff:172.217.20.4", 443), "ESTABLISHED", 10012, 51236),
    SocketEntry("tcp6", ("::", 9008), ("::", 0), "LISTEN", 2000, 51237),
    SocketEntry("udp", ("0.0.0.0", 68), ("0.0.0.0", 0), "CLOSE", 1000, 51238),
]


def test_tcp_table_layout_and_parse_back() -> None:
    table = tcp4_table(SOCKETS)
    lines = table.splitlines()
    assert lines[0].startswith("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
                               "timeout inode")
    assert all(len(line) == 149 for line in lines)  # seq_pad() pads every line to TMPSZ - 1
    assert lines[1].startswith("   0: 1731A8C0:A35E 1BD2EF73:0050 01 00000000:00000000 ")
    assert parse(table, ROW4, ipv4) == [
        ("192.168.49.23", 41822, "115.239.210.27", 80, "ESTABLISHED", 10070, 51234),
        ("127.0.0.1", 9008, "0.0.0.0", 0, "LISTEN", 2000, 51235),
    ]


def test_tcp6_table_parse_back_with_mapped_ipv4() -> None:
    table = tcp6_table(SOCKETS)
    assert table.splitlines()[0].startswith("  sl  local_address                         remote_address")
    assert "0000000000000000FFFF00001731A8C0:C422" in table
    assert parse(table, ROW6, ipv6) == [
        ("::ffff:c0a8:3117", 50210, "::ffff:acd9:1404", 443, "ESTABLISHED", 10012, 51236),
        ("::", 9008, "::", 0, "LISTEN", 2000, 51237),
    ]


def test_udp_table() -> None:
    lines = udp_table(SOCKETS, 4).splitlines()
    assert lines[0].rstrip().endswith("inode ref pointer drops")
    assert all(len(line) == 127 for line in lines)
    assert re.match(r"^\s+68: 00000000:0044 00000000:0000 07 ", lines[1])
    assert " 1000 " in lines[1]


def test_proc_files_on_a_booted_handset() -> None:
    async def body() -> None:
        handset = await boot()
        system = handset.system
        assert system is not None
        assert await out(handset, "cat /proc/net/tcp | wc -l") == "1\n"  # header only
        server = system.listen(9008, uid=2000)
        system.sockets.append(SocketEntry("tcp", ("192.168.49.23", 41822), ("115.239.210.27", 80), "ESTABLISHED",
                                          10070, system.next_inode()))
        tcp = parse(await out(handset, "cat /proc/net/tcp"), ROW4, ipv4)
        assert tcp == [("192.168.49.23", 41822, "115.239.210.27", 80, "ESTABLISHED", 10070, server.inode + 1)]
        tcp6 = parse(await out(handset, "cat /proc/net/tcp6"), ROW6, ipv6)
        assert tcp6 == [("::", 9008, "::", 0, "LISTEN", 2000, server.inode)]
        system.close_socket(server)
        assert parse(await out(handset, "cat /proc/net/tcp6"), ROW6, ipv6) == []
        assert await out(handset, "cat /sys/class/net/wlan0/address") == handset.hardware.wifi_mac + "\n"
        uptime = (await out(handset, "cat /proc/uptime")).split()
        assert len(uptime) == 2
        assert float(uptime[0]) >= 0
        assert re.fullmatch(r"[0-9a-f-]{36}\n", await out(handset, "cat /proc/sys/kernel/random/boot_id"))
        assert "tcp6" in await out(handset, "ls /proc/net")

    asyncio.run(body())
