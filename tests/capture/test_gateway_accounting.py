"""The gateway's connection table, accounted for row by row (no namespaces needed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from devicelab.capture.config import CaptureConfig
from devicelab.capture.gateway.accounting import reconcile
from devicelab.capture.gateway.handset_gateway import GatewayPlan, HandsetGateway
from devicelab.capture.gateway.resolver import Query
from devicelab.capture.gateway.transparent import Relayed
from devicelab.errors import CaptureError
from devicelab.model.policy import Policy
from devicelab.model.traffic import Flow, Request
from devicelab.reports.destinations import from_connections

HS = "10.77.0.2"


def _row(proto: str, port: int, remote: str, up: int, down: int = 0, payload: bytes = b"", first: float = 1.0) -> dict:
    return {"proto": proto, "handset": f"{HS}:{port}", "remote": remote, "packets_up": 1, "packets_down": 1,
            "bytes_up": up, "bytes_down": down, "first": first, "last": first + 1, "flags": "",
            "payload_up": payload.hex()}


def _flow(client: str) -> Flow:
    return Flow(source="e", index=0, id="f1", tls=False, client=client,
                request=Request(method="POST", scheme="http", host="zzhc.vnet.cn", port=80, path="/"))


def test_every_row_is_read_or_a_gap_with_its_bytes() -> None:
    table = [
        _row("udp", 5000, "10.77.0.1:53", 30, 60),
        _row("tcp", 5001, "198.18.0.9:80", 600, 100, b"x" * 600, first=2.0),  # read by a flow
        _row("tcp", 5002, "198.18.0.9:80", 11, 0, b"GET /abcdef", first=3.0),  # only the packet record has it
        _row("tcp", 5003, "198.18.0.9:80", 0, 0, first=4.0),  # a bare SYN: nothing to read, a gap
        _row("udp", 5004, "198.18.0.9:443", 1200),  # QUIC, then TCP to that host
        _row("udp", 5005, "198.18.0.7:443", 1200),  # QUIC, never TCP: a gap
        _row("udp", 5006, "198.18.0.8:123", 48, 48, b"\x1b" + b"\x00" * 47),
    ]
    queries = [Query(0.5, f"{HS}:5000", "udp", "zzhc.vnet.cn", "A", "198.18.0.9")]
    relayed = [Relayed((HS, 5001), ("198.18.0.9", 80), 600, 100, proxy_port=40001),
               Relayed((HS, 5002), ("198.18.0.9", 80), 10, 0, proxy_port=40002)]
    result = reconcile(table, HS, queries, relayed, [_flow("127.0.0.1:40001")])
    assert [r["account"] for r in result.rows] == ["dns", "read", "packet", "gap", "quic", "gap", "udp"]
    assert result.unaccounted == 0
    assert result.rows[0]["host"] == "zzhc.vnet.cn"  # a DNS row is named by the name it asked
    gaps = [r for r in result.records if r["kind"] == "gap"]
    assert [g["gap"] for g in gaps] == ["opaque_connection", "quic_without_fallback"]
    assert "0 bytes up" in gaps[0]["detail"]
    assert {r["kind"] for r in result.records} >= {"dns", "stream_start", "stream_data", "stream_end"}
    table_rows = from_connections(result.rows, (), Policy.model_validate({"name": "p", "approved": []}))
    assert {(d.host, d.protocol) for d in table_rows} >= {("zzhc.vnet.cn", "dns"), ("zzhc.vnet.cn", "tcp")}
    assert {d.seen for d in table_rows if d.host == "zzhc.vnet.cn" and d.protocol == "tcp"} == {"opaque"}


def test_a_handset_no_lab_plugs_in_is_refused_not_watched_blind(tmp_path: Path) -> None:
    handset = SimpleNamespace(serial="X1", network_plug=None)
    plan = GatewayPlan.of(CaptureConfig(mode="gateway"))
    with pytest.raises(CaptureError, match=r"handsets\.N\.gateway: \{interface"):
        HandsetGateway(tmp_path, handset, plan, proxy=("127.0.0.1", 1)).start()  # type: ignore[arg-type]


def test_a_handset_the_inventory_places_on_an_interface_gets_the_rules_there(tmp_path: Path) -> None:
    from devicelab.capture.gateway.interface import InterfaceGateway
    from devicelab.model.inventory import GatewayInterface

    place = GatewayInterface(interface="wlan1", kind="hostapd", address="10.77.0.23")
    handset = SimpleNamespace(serial="X1", network_plug=None, entry=SimpleNamespace(gateway=place))
    hg = HandsetGateway(tmp_path, handset, GatewayPlan.of(CaptureConfig(mode="gateway")),  # type: ignore[arg-type]
                        proxy=("127.0.0.1", 1))
    assert isinstance(hg.gateway, InterfaceGateway)
    assert hg.gateway.place.interface == "wlan1"


def test_a_physical_gateway_answers_the_runs_own_names_and_asks_the_internet_for_the_rest() -> None:
    from devicelab.capture.gateway.handset_gateway import lab_then

    asked: list[str] = []
    lookup = lab_then({"canary.devicelab.test": "198.18.0.7"}, lambda name: asked.append(name) or "203.0.113.5")
    assert lookup("Canary.devicelab.test.") == "198.18.0.7"
    assert lookup("zzhc.vnet.cn") == "203.0.113.5"
    assert asked == ["zzhc.vnet.cn"]


def test_the_hosts_resolver_is_asked_bounded_and_a_silent_one_is_no_answer(tmp_path: Path) -> None:
    import time

    from devicelab.capture.gateway.resolver import host_upstream

    conf = tmp_path / "resolv.conf"
    conf.write_text("# loopback, nothing listens there: refused at once\nnameserver 127.0.0.254\n")
    started = time.monotonic()
    assert host_upstream(conf, timeout=0.5)("zzhc.vnet.cn") is None
    assert time.monotonic() - started < 2
    assert host_upstream(tmp_path / "missing.conf")("zzhc.vnet.cn") is None  # no servers: no answer


def _ipv4_frame(src: str, dst: str) -> bytes:
    import socket
    import struct

    udp = struct.pack("!HHHH", 40000, 123, 8 + 4, 0) + b"ping"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src),
                     socket.inet_aton(dst))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


def test_a_shared_interface_records_only_the_handsets_own_packets(tmp_path: Path) -> None:
    """Two handsets on one access point: each run's record holds its handset's address alone."""
    import socket

    from devicelab.capture.gateway.packets import PCAP_HEADER, PacketRecorder

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # stands in for the AF_PACKET socket: never read
    sock.settimeout(0.05)
    recorder = PacketRecorder(sock, "10.77.0.23", tmp_path / "h.pcap", tmp_path / "h.json", shared=True)
    recorder._take(_ipv4_frame("10.77.0.23", "198.18.0.9"), ("wlan1", 0x0800, 0))
    recorder._take(_ipv4_frame("10.77.0.24", "198.18.0.9"), ("wlan1", 0x0800, 0))  # the other handset
    recorder._take(b"\xff" * 6 + b"\x04" * 6 + b"\x08\x06" + b"\x00" * 28, ("wlan1", 0x0806, 1))  # ARP
    rows = recorder.stop()
    assert [(r["handset"], r["remote"]) for r in rows] == [("10.77.0.23:40000", "198.18.0.9:123")]
    assert recorder.frames == 1
    assert len((tmp_path / "h.pcap").read_bytes()) == len(PCAP_HEADER) + 16 + len(_ipv4_frame("1.1.1.1", "2.2.2.2"))
