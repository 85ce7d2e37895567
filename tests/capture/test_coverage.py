"""Parsing the handset's socket table and package list; bypass and app attribution from them."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from devicelab.capture.coverage import (
    Attribution,
    ProxyView,
    Sighting,
    Socket,
    decode_address,
    find_bypasses,
    parse_packages,
    parse_proc_net,
    uid_name,
)
from tests.capture.fake_handset import _hex_ip

# As an Android 9 handset on Wi-Fi prints them (addresses in host byte order, little-endian)
# ruff: noqa: E501 - kernel lines are kept verbatim
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:13AD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18473 1 0000000000000000 100 0 0 10 0
   1: 0F02000A:C5D2 4A7D6B8E:01BB 01 00000000:00000000 02:000A7B5E 00000000 10057        0 213581 2 0000000000000000 21 4 30 10 -1
   2: 0F02000A:9C4A 6A0F3AD8:0050 06 00000000:00000000 03:00001581 00000000     0        0 0 3 0000000000000000
   3: 0F02000A:B00C 6400A8C0:1F90 01 00000000:00000000 02:00000E2D 00000000 10099        0 220010 2 0000000000000000 20 4 28 10 -1
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F98 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  2000        0 30211 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000F02000A:C5D4 0000000000000000FFFF00004A7D6B8E:01BB 01 00000000:00000000 02:00022A4C 00000000 10061        0 215544 2 0000000000000000 22 4 30 10 -1
   2: B80D0120000000000000000002000000:D2F0 B80D0120000000000000000001000000:01BB 02 00000001:00000000 01:00000153 00000002 10061        0 215600 2 0000000000000000 200 0 0 2 -1
"""
PROC_NET_UDP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1234: 0F02000A:D431 0302000A:0035 01 00000000:00000000 00:00000000 00000000  1051        0 23456 2 0000000000000000 0
 2200: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 16020 2 0000000000000000 0
"""
PM_LIST = """\
package:com.android.chrome uid:10061
package:com.android.settings uid:1000
package:android uid:1000
package:com.qualcomm.qti.autoregistration uid:10099
package:com.example.work uid:10120,1010120
garbage line
"""
PROXY = ProxyView(proxy=("192.168.0.100", 8080))


def test_tcp_rows_decode_addresses_states_and_owners() -> None:
    rows = parse_proc_net(PROC_NET_TCP, "tcp")
    assert [(s.local_ip, s.local_port, s.remote_ip, s.remote_port, s.state, s.uid) for s in rows] == [
        ("127.0.0.1", 5037, "0.0.0.0", 0, "LISTEN", 0),
        ("10.0.2.15", 50642, "142.107.125.74", 443, "ESTABLISHED", 10057),
        ("10.0.2.15", 40010, "216.58.15.106", 80, "TIME_WAIT", 0),
        ("10.0.2.15", 45068, "192.168.0.100", 8080, "ESTABLISHED", 10099),
    ]
    assert rows[1].inode == 213581


def test_tcp6_shows_mapped_ipv4_as_ipv4_and_keeps_real_ipv6() -> None:
    rows = parse_proc_net(PROC_NET_TCP6, "tcp6")
    assert [(s.proto, s.local_ip, s.remote_ip, s.remote_port, s.state) for s in rows] == [
        ("tcp", "::", "::", 0, "LISTEN"),
        ("tcp", "10.0.2.15", "142.107.125.74", 443, "ESTABLISHED"),
        ("tcp", "2001:db8::2", "2001:db8::1", 443, "SYN_SENT"),
    ]
    assert rows[2].remote == "[2001:db8::1]:443"


def test_udp_rows_tell_connected_from_unconnected() -> None:
    rows = parse_proc_net(PROC_NET_UDP, "udp")
    assert [(s.proto, s.remote_ip, s.remote_port, s.state, s.uid) for s in rows] == [
        ("udp", "10.0.2.3", 53, "CONNECTED", 1051), ("udp", "0.0.0.0", 0, "UNCONN", 1000)]


def test_odd_lines_are_skipped() -> None:
    text = "header\n   0: ZZ:1 00:0 01\n   1: 01007F:13AD 00000000:0000 0A 0:0 0:0 0 0 0 1\n\n"  # 3-byte address
    assert parse_proc_net(text, "tcp") == []


@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), st.integers(0, 65535))
def test_addresses_round_trip_through_the_kernel_format(ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
                                                        port: int) -> None:
    v6 = ip.version == 6
    decoded = decode_address(_hex_ip(str(ip), v6), f"{port:04X}")
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    assert decoded == (str(mapped or ip), port)


def test_package_list_maps_uids_including_shared_and_other_users() -> None:
    packages = parse_packages(PM_LIST)
    assert packages[1000] == ("android", "com.android.settings")
    assert packages[1010120] == ("com.example.work",)
    assert uid_name(10061, packages) == "com.android.chrome"
    assert uid_name(1000, packages) == "android (+1 sharing uid 1000)"
    assert uid_name(1010061, packages) == "com.android.chrome"  # user 10's instance of the same app
    assert uid_name(1051, packages) == "dns"
    assert uid_name(10444, packages) == "uid:10444"


def _all() -> list[Socket]:
    return (parse_proc_net(PROC_NET_TCP, "tcp") + parse_proc_net(PROC_NET_TCP6, "tcp6")
            + parse_proc_net(PROC_NET_UDP, "udp"))


def test_bypasses_are_the_sockets_that_did_not_use_the_proxy() -> None:
    found = find_bypasses(_all(), PROXY, parse_packages(PM_LIST))
    described = [(b.socket.remote, b.app, b.dns) for b in found]
    assert described == [
        ("142.107.125.74:443", "uid:10057", False),
        ("216.58.15.106:80", "unknown (closed socket)", False),
        ("142.107.125.74:443", "com.android.chrome", False),
        ("[2001:db8::1]:443", "com.android.chrome", False),
        ("10.0.2.3:53", "dns", True),
        ("0.0.0.0:0", "android (+1 sharing uid 1000)", False),  # unconnected: sends anywhere with sendto
    ]
    assert found[-1].unconnected
    assert "com.android.chrome (uid 10061) tcp to 142.107.125.74:443 [ESTABLISHED]" in found[2].describe()


def test_inside_a_wireguard_tunnel_nothing_bypasses() -> None:
    tunnel = [Socket("tcp", "10.0.0.1", 41000, "142.107.125.74", 443, "ESTABLISHED", 10057, 9)]
    assert find_bypasses(tunnel, ProxyView(tunnel_ip="10.0.0.1"), {}) == []
    assert len(find_bypasses(tunnel, PROXY, {})) == 1


def test_attribution_by_the_handset_port_of_the_proxy_connection() -> None:
    packages = parse_packages(PM_LIST)
    early = Socket("tcp", "10.0.2.15", 45068, "192.168.0.100", 8080, "ESTABLISHED", 10099, 1)
    reused = Socket("tcp", "10.0.2.15", 45068, "192.168.0.100", 8080, "ESTABLISHED", 10061, 2)
    elsewhere = Socket("tcp", "10.0.2.15", 45070, "142.107.125.74", 443, "ESTABLISHED", 10057, 3)
    attribution = Attribution([Sighting(100.0, early), Sighting(500.0, reused), Sighting(100.0, elsewhere)],
                              PROXY, packages)
    assert attribution.app(45068, 120.0) == "com.qualcomm.qti.autoregistration"
    assert attribution.app(45068, 480.0) == "com.android.chrome"  # the port was reused later
    assert attribution.app(45070, 100.0) is None  # not a connection to the proxy
    assert attribution.app(1, None) is None


def test_the_virtual_handsets_tables_parse_the_same() -> None:
    """Contract with the virtual lab's /proc/net (devicelab.virtual.procfs): what it prints, we read."""
    from devicelab.virtual import procfs
    from devicelab.virtual.android import SocketEntry

    entries = [
        SocketEntry("tcp", ("10.0.2.15", 45068), ("192.168.0.100", 8080), "ESTABLISHED", 10099, 7001),
        SocketEntry("tcp6", ("::ffff:10.0.2.15", 50642), ("::ffff:142.107.125.74", 443), "ESTABLISHED", 10057, 7002),
        SocketEntry("tcp", ("10.0.2.15", 40010), ("216.58.15.106", 80), "TIME_WAIT", 10057, 7003),
        SocketEntry("udp", ("10.0.2.15", 54321), ("10.0.2.3", 53), "ESTABLISHED", 1051, 7004),
    ]
    rows = (parse_proc_net(procfs.tcp4_table(entries), "tcp") + parse_proc_net(procfs.tcp6_table(entries), "tcp6")
            + parse_proc_net(procfs.udp_table(entries, 4), "udp"))
    assert sorted((s.proto, s.local_port, s.remote_ip, s.remote_port, s.state, s.uid) for s in rows) == [
        ("tcp", 40010, "216.58.15.106", 80, "TIME_WAIT", 0),
        ("tcp", 45068, "192.168.0.100", 8080, "ESTABLISHED", 10099),
        ("tcp", 50642, "142.107.125.74", 443, "ESTABLISHED", 10057),
        ("udp", 54321, "10.0.2.3", 53, "CONNECTED", 1051),
    ]


def test_port_53_is_dns_only_for_the_resolvers_datagrams() -> None:
    # audit F1: plain HTTP to zzhc.vnet.cn:53 around the proxy was taken for DNS and only noted
    http_on_53 = Socket("tcp", "10.0.2.15", 41000, "198.18.7.7", 53, "ESTABLISHED", 10099, 9)
    resolver = Socket("udp", "10.0.2.15", 53000, "10.0.2.3", 53, "CONNECTED", 1051, 10)
    found = find_bypasses([http_on_53, resolver], PROXY, parse_packages(PM_LIST))
    assert [(b.socket.proto, b.dns) for b in found] == [("tcp", False), ("udp", True)]


def test_unconnected_udp_is_seen_once_per_app_and_port() -> None:
    # a datagram sent with sendto() leaves no remote address in /proc/net/udp: the socket itself is the gap
    rows = [Socket("udp", "0.0.0.0", 40123, "0.0.0.0", 0, "UNCONN", 10099, 1),
            Socket("udp", "0.0.0.0", 40123, "0.0.0.0", 0, "UNCONN", 10099, 2),
            Socket("udp", "127.0.0.1", 40124, "0.0.0.0", 0, "UNCONN", 10099, 3)]  # loopback only: stays home
    (found,) = find_bypasses(rows, PROXY, parse_packages(PM_LIST))
    assert (found.unconnected, found.dns) == (True, False)
    assert "com.qualcomm.qti.autoregistration (uid 10099) unconnected udp on local port 40123" in found.describe()
