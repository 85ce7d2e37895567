"""The gateway on a physical lab's interface (`handsets.N.gateway`), on namespaces the test makes.

The "gateway host" is a namespace of its own, its "access point" a veth (`wlan-t`) whose other end
is the "phone" (a socket in a second namespace); its uplink goes to a third, the virtual internet.
Nothing leaves the machine; the root namespace's forwarding and tables are never touched. The
names carry the test's pid (`dl-<pid>x<hex>-*`): another checkout's runs never collide with them,
and the gateway's sweep removes them when a killed test leaves them behind.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from mitmproxy import dns
from pyroute2 import IPRoute

from devicelab.capture import Capture, CaptureConfig
from devicelab.capture.gateway import netns, nft, privilege
from devicelab.capture.gateway.accounting import reconcile
from devicelab.capture.gateway.interface import InterfaceGateway
from devicelab.capture.gateway.nsthread import NsThread
from devicelab.capture.gateway.packets import PCAP_HEADER
from devicelab.errors import CaptureError, InfrastructureError
from devicelab.model.inventory import GatewayInterface
from tests.capture.helpers import upstream
from tests.capture.test_gateway import NTP, _dns_query, _http_get, _udp, _udp_server

pytestmark = pytest.mark.skipif(bool(privilege.missing()),
                                reason=f"the gateway needs {', '.join(privilege.missing())} (run as root)")

T = TypeVar("T")
PUBLIC = "93.184.216.34"  # played inside the test's internet namespace only
AP, PHONE, UPLINK = "10.79.0.1", "10.79.0.23", ("10.78.9.1", "10.78.9.2")


@dataclass
class Bench:
    run: str
    host: str  # the gateway host's namespace (stands in for the lab's machine)
    phone: str
    internet: str

    @property
    def names(self) -> list[str]:
        return [self.host, self.phone, self.internet]

    def place(self, **changes: str) -> GatewayInterface:
        fields = {"interface": "wlan-t", "kind": "hostapd", "address": PHONE, "uplink": "up0", "netns": self.host}
        return GatewayInterface.model_validate({**fields, **changes})


def _bench() -> Bench:
    run = netns.new_run_id()
    bench = Bench(run, f"dl-{run}-ap", f"dl-{run}-phone", f"dl-{run}-net")
    for name in bench.names:
        netns.netns.create(name)
    try:
        _call(bench.host, _wire_host, bench)
        _call(bench.phone, _wire_end, "wlan0", PHONE, AP)
        _call(bench.internet, _wire_end, "net0", UPLINK[1], "", PUBLIC)
    except BaseException:
        _remove(bench)
        raise
    return bench


def _wire_host(bench: Bench) -> None:
    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        for ifname, peer, peer_ns, address in (("wlan-t", "wlan0", bench.phone, AP),
                                               ("up0", "net0", bench.internet, UPLINK[0])):
            ipr.link("add", ifname=ifname, kind="veth", peer={"ifname": peer, "net_ns_fd": peer_ns})
            index = ipr.link_lookup(ifname=ifname)[0]
            ipr.addr("add", index=index, address=address, prefixlen=24)
            ipr.link("set", index=index, state="up")
        ipr.route("add", dst=f"{PUBLIC}/32", gateway=UPLINK[1])
    # the lab's job on a real host; here inside the test's own namespace only
    with open("/proc/sys/net/ipv4/ip_forward", "w", encoding="ascii") as forward:
        forward.write("1")


def _wire_end(ifname: str, address: str, gateway: str, public: str = "") -> None:
    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        index = ipr.link_lookup(ifname=ifname)[0]
        ipr.addr("add", index=index, address=address, prefixlen=24)
        ipr.link("set", index=index, state="up")
        if gateway:
            ipr.route("add", dst="0.0.0.0/0", gateway=gateway)
        if public:
            ipr.addr("add", index=ipr.link_lookup(ifname="lo")[0], address=public, prefixlen=32)
        netns._wait_up(ipr, ifname)


def _remove(bench: Bench) -> None:
    for name in bench.names:
        netns._remove(name)


@pytest.fixture
def bench() -> Iterator[Bench]:
    made = _bench()
    try:
        yield made
    finally:
        _remove(made)
    assert not [n for n in netns.netns.listnetns() if n.startswith(f"dl-{made.run}")]


def _call(namespace: str, fn: Callable[..., T], *args: Any) -> T:
    worker = NsThread(namespace)
    try:
        return worker.call(fn, *args)
    finally:
        worker.close()


def _tables(namespace: str) -> list[str]:
    return _call(namespace, nft.tables)


def test_the_interface_gets_the_gateway_policy_and_loses_it_after(bench: Bench, tmp_path: Path) -> None:
    forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    root_tables = nft.tables()
    with upstream() as server:
        capture = Capture(tmp_path / "capture", CaptureConfig(upstream_hosts={PUBLIC: ("127.0.0.1", server.port)},
                                                              upstream_only=True)).start()
        gateway = InterfaceGateway(tmp_path / "gateway", "handset", bench.place(),
                                   upstream={"zzhc.vnet.cn": PUBLIC}.get, proxy=capture.address)
        phone = internet = None
        try:
            gateway.start()
            assert gateway.rules_present()
            assert gateway.table in _tables(bench.host)
            assert gateway.gateway_address == AP
            # the host's other networks cannot reach the relay or the resolver: they listen on the AP only
            assert gateway._relay is not None
            assert gateway._relay.listener.getsockname() == (AP, gateway.ports[0])
            phone, internet = NsThread(bench.phone), NsThread(bench.internet)
            # DNS to a hard-coded public resolver is redirected to devicelab's, and logged
            answer = dns.Message.unpack(phone.call(_dns_query, "8.8.8.8", "zzhc.vnet.cn"))
            assert str(answer.answers[0].ipv4_address) == PUBLIC
            # TCP: into mitmproxy's transparent path, read as a flow
            assert phone.call(_http_get, PUBLIC).startswith(b"HTTP/1.1 200")
            # QUIC dropped (the phone falls back to TCP); other UDP forwarded out of the uplink
            ntp = internet.call(_udp_server, PUBLIC, 123)
            try:
                assert phone.call(_udp, PUBLIC, 443, b"\xc0quic-initial", False) == b""
                assert phone.call(_udp, PUBLIC, 123, NTP, True)[:1] == b"\x1c"
            finally:
                ntp.close()
            flows = capture.read(include_canary=True).flows
        finally:
            for worker in (phone, internet):
                if worker is not None:
                    worker.close()
            summary = gateway.stop()
            capture.stop()
    assert gateway.table not in _tables(bench.host)  # the rules are gone with the run
    assert nft.tables() == root_tables  # the host's own namespace was never touched
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == forwarding
    assert [(f.request.host, f.request.path) for f in flows if "imei" in f.request.path] == [
        ("zzhc.vnet.cn", "/register?imei=490154203237518")]
    assert [(q.name, q.answer) for q in gateway.queries] == [("zzhc.vnet.cn", PUBLIC)]
    assert summary["counters"]["quic_drop"][0] == 1
    assert summary["counters"]["tcp_redirect"][0] >= 1
    assert summary["interface"] == "wlan-t"
    assert (tmp_path / "gateway" / "handset.pcap").read_bytes().startswith(PCAP_HEADER)
    accounting = reconcile(gateway.tables["handset"], PHONE, gateway.queries, gateway.relayed, flows)
    assert accounting.unaccounted == 0
    accounts = {(r["proto"], r["remote"]): r["account"] for r in accounting.rows}
    assert accounts[("tcp", f"{PUBLIC}:80")] == "read"
    assert accounts[("udp", f"{PUBLIC}:123")] == "udp"
    assert accounts[("udp", f"{PUBLIC}:443")] == "quic"  # TCP to that host followed: no gap
    assert any(r["account"] == "dns" for r in accounting.rows)


def test_rules_left_by_a_killed_run_are_removed_by_the_next(bench: Bench, tmp_path: Path) -> None:
    place = bench.place()
    code = ("import sys, time; from pathlib import Path; from devicelab.capture.gateway.interface import "
            "InterfaceGateway; from devicelab.model.inventory import GatewayInterface; "
            f"place = GatewayInterface.model_validate_json({place.model_dump_json()!r}); "
            "g = InterfaceGateway(Path(sys.argv[1]), 'handset', place, "
            "upstream=lambda name: None, proxy=('127.0.0.1', 9)).start(); print(g.table, flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "killed")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        table = proc.stdout.readline().strip()
        assert table in _tables(bench.host)
    finally:
        proc.send_signal(signal.SIGKILL)  # no cleanup code runs
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert table in _tables(bench.host)  # left behind: TCP and DNS now fail closed (dead ports)
    gateway = InterfaceGateway(tmp_path / "next", "handset", place, upstream=lambda name: None, proxy=("127.0.0.1", 9))
    try:
        gateway.start()
        assert _tables(bench.host) == [gateway.table]
    finally:
        gateway.stop()
    assert not [t for t in _tables(bench.host) if t.startswith(nft.INTERFACE_PREFIX)]


def test_a_missing_interface_is_one_clear_error_naming_it(bench: Bench, tmp_path: Path) -> None:
    gateway = InterfaceGateway(tmp_path, "handset", bench.place(interface="wlan9"), upstream=lambda n: None,
                               proxy=("127.0.0.1", 9))
    with pytest.raises(CaptureError, match="interface wlan9") as raised:
        gateway.start()
    assert isinstance(raised.value, InfrastructureError)  # exit 3
    assert not [t for t in _tables(bench.host) if t.startswith(nft.INTERFACE_PREFIX)]


def test_without_the_capability_the_error_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(privilege, "effective_capabilities", lambda: 1 << privilege.CAP_NET_ADMIN)
    place = GatewayInterface(interface="wlan1", kind="hostapd", address="10.77.0.23")
    with pytest.raises(privilege.GatewayPrivilegeError, match=r"CAP_NET_RAW.*interface wlan1"):
        InterfaceGateway(tmp_path, "handset", place, upstream=lambda n: None, proxy=("127.0.0.1", 9)).start()
