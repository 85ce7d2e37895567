"""The handset's HTTP client against the virtual internet: DNS, proxy, trust, pinning, sockets."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from devicelab.virtual.fs import VirtualFS
from devicelab.virtual.handset import VirtualHandset
from devicelab.virtual.net import pki, trust
from devicelab.virtual.net.dns import display_address
from devicelab.virtual.net.httpclient import Caller, DeviceHttpClient, NetError, Request
from devicelab.virtual.net.internet import VirtualInternet
from tests.virtual.net_helpers import RecordingProxy, boot, eventually, quiet, run

CHROME = Caller("com.android.chrome", 10080)


@pytest.fixture(autouse=True)
def no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any look-up of a name in the host's resolver fails the test: the lab must never ask it."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "127.0.0.1", "::1", b"127.0.0.1"):
            raise AssertionError(f"real DNS asked for {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def client(handset: VirtualHandset, caller: Caller = CHROME, **kwargs: Any) -> DeviceHttpClient:
    assert handset.network is not None
    assert handset.system is not None
    return handset.network.client(handset.system, caller, **kwargs)


@contextlib.asynccontextmanager
async def world(scale: float = 60) -> AsyncIterator[tuple[VirtualInternet, VirtualHandset]]:
    """The virtual internet and one booted handset with a Telenor SIM; both stopped afterwards."""
    internet = VirtualInternet()
    await internet.start()
    try:
        handset = await boot(internet, quiet("nokia7plus-00WW_3_22C"), sim="telenor-no", scale=scale)
        try:
            yield internet, handset
        finally:
            await handset.power_off()
    finally:
        await internet.stop()


def test_direct_requests_reach_the_responders_and_are_in_the_socket_table() -> None:
    async def scenario() -> None:
        async with world() as (internet, handset):
            plain = await client(handset).fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204"))
            secure = await client(handset).fetch(Request("GET", "https://www.google.com/generate_204"))
            assert (plain.status, secure.status) == (204, 204)
            first, second = internet.requests_to("connectivitycheck.gstatic.com")[0], internet.requests_to(
                "www.google.com")[0]
            assert not first.tls
            assert second.tls
            assert second.sni == "www.google.com"
            assert first.header("Host") == "connectivitycheck.gstatic.com"
            assert handset.system is not None
            rows = {s.local[1]: s for s in handset.system.sockets}
            for request in (first, second):  # the responder's peer port is the row's local port
                row = rows[request.peer[1]]
                assert (row.proto, row.state, row.uid, row.local[0]) == ("tcp6", "ESTABLISHED", 10080,
                                                                          "::ffff:127.0.0.1")
            table = handset.system.fs.read("/proc/net/tcp6").decode()
            assert f"{first.peer[1]:04X}" in table
            assert " 10080 " in table

    run(scenario)


def test_the_virtual_root_is_a_system_ca_from_the_first_boot() -> None:
    async def scenario() -> None:
        async with world() as (internet, handset):
            assert handset.system is not None
            path = f"{trust.SYSTEM_STORE}/{internet.root_ca_store_name()}"
            assert handset.system.fs.exists(path)
            assert pki.pem_certificates(handset.system.fs.read(path)) == [internet.root_ca_pem()]
            assert internet.root_ca_pem_path().read_bytes() == internet.root_ca_pem()
            assert "zzhc.vnet.cn" in internet.upstream_hosts()
            assert "42.99.2.15" in internet.upstream_hosts()

    run(scenario)


def test_unknown_names_are_nxdomain_and_offline_handsets_resolve_nothing() -> None:
    async def scenario() -> None:
        async with world() as (internet, handset):
            with pytest.raises(NetError) as info:
                await client(handset).fetch(Request("GET", "https://www.nrk.no/"))
            assert info.value.java == "java.net.UnknownHostException"
            assert "www.nrk.no" in internet.resolver.queries
            handset.insert_sim(None)  # no SIM and no Wi-Fi: no network at all
            with pytest.raises(NetError, match="Unable to resolve host"):
                await client(handset).fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204"))

    run(scenario)


def test_proxy_setting_is_honoured_absolute_form_for_http_and_connect_for_https(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world() as (internet, handset), RecordingProxy(internet, tmp_path) as proxy:
            assert handset.system is not None
            proxy.reverse(handset)
            handset.system.settings("global")["http_proxy"] = proxy.setting
            http = await client(handset).fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204"))
            https = await client(handset).fetch(Request("GET", "https://www.google.com/generate_204"))
            assert (http.status, https.status) == (204, 204)
            assert [(s.method, s.target) for s in proxy.seen] == [
                ("GET", "http://connectivitycheck.gstatic.com/generate_204"), ("CONNECT", "www.google.com:443")]
            remotes = {s.remote for s in handset.system.sockets}
            assert remotes == {("::ffff:127.0.0.1", proxy.port)}
            handset.system.settings("global")["http_proxy"] = ":0"  # cleared: direct again
            await client(handset).fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204"))
            assert len(proxy.seen) == 2

    run(scenario)


def overlay_ca(fs: VirtualFS, cert: x509.Certificate, pem: bytes) -> None:
    """As the harness installs a CA on a userdebug B2N: a tmpfs over the (dm-verity) store, the
    store's certificates copied back, ours added."""
    kept = {path: fs.read(path) for path in fs.walk_files(trust.SYSTEM_STORE)}
    fs.mount_tmpfs(trust.SYSTEM_STORE)
    for path, data in kept.items():
        fs.write(path, data)
    fs.write(f"{trust.SYSTEM_STORE}/{pki.android_store_name(cert)}", pem)


def test_interception_needs_the_ca_in_the_system_store(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world() as (internet, handset), RecordingProxy(internet, tmp_path, mitm=True) as proxy:
            system = handset.system
            assert system is not None
            proxy.reverse(handset)
            system.settings("global")["http_proxy"] = proxy.setting
            with pytest.raises(NetError) as info:
                await client(handset).fetch(Request("GET", "https://www.google.com/generate_204"))
            assert info.value.java == "javax.net.ssl.SSLHandshakeException"
            assert "Trust anchor for certification path not found" in info.value.message
            # a user-installed CA does not help apps that target API 24+
            system.fs.write(f"{trust.USER_STORE}/{pki.android_store_name(proxy.ca.cert)}", proxy.ca.cert_pem,
                            make_parents=True)
            with pytest.raises(NetError, match="SSLHandshakeException"):
                await client(handset).fetch(Request("GET", "https://www.google.com/generate_204"))
            assert not [s for s in proxy.seen if s.tls]
            # as the harness installs it: the PEM file in the system store
            overlay_ca(system.fs, proxy.ca.cert, proxy.ca.cert_pem)
            response = await client(handset).fetch(Request("GET", "https://www.google.com/generate_204"))
            assert response.status == 204
            assert [(s.method, s.target, s.tls) for s in proxy.seen if s.tls] == [("GET", "/generate_204", True)]

    run(scenario)


def test_a_pinning_app_refuses_the_interceptor_inside_the_handshake(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world() as (internet, handset), RecordingProxy(internet, tmp_path, mitm=True) as proxy:
            system = handset.system
            assert system is not None
            pins = frozenset({internet.spki_pin("push.hmdglobal.com")})
            pusher = Caller("com.evenwell.pushagent", 10071)
            direct = await client(handset, pusher, pins=pins).fetch(Request("POST", "https://push.hmdglobal.com/v2/"
                                                                            "register", body=b"{}"))
            assert direct.status == 200
            overlay_ca(system.fs, proxy.ca.cert, proxy.ca.cert_pem)
            proxy.reverse(handset)
            system.settings("global")["http_proxy"] = proxy.setting
            with pytest.raises(NetError) as info:
                await client(handset, pusher, pins=pins).fetch(Request("POST", "https://push.hmdglobal.com/v2/"
                                                                       "register", body=b"{}"))
            assert info.value.java == "javax.net.ssl.SSLPeerUnverifiedException"
            assert "Certificate pinning failure" in info.value.message
            assert [s.target for s in proxy.seen] == ["push.hmdglobal.com:443"]  # the CONNECT (host name) only
            await eventually(lambda: bool(proxy.tls_failures), 5)  # the proxy's handshake never completes
            assert proxy.tls_failures[0].startswith("push.hmdglobal.com")
            assert len(internet.requests_to("push.hmdglobal.com")) == 1  # the direct one

    run(scenario)


def test_a_component_that_ignores_the_proxy_goes_direct(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world() as (internet, handset), RecordingProxy(internet, tmp_path) as proxy:
            assert handset.system is not None
            proxy.reverse(handset)
            handset.system.settings("global")["http_proxy"] = proxy.setting
            daemon = Caller("xtra-daemon", 1021, java=False)
            response = await client(handset, daemon, honour_proxy=False).fetch(
                Request("GET", "http://xtrapath1.izatcloud.net/xtra3grc.bin"))
            assert response.status == 200
            assert len(response.body) == 4096
            assert proxy.seen == []
            arrived = internet.requests_to("xtrapath1.izatcloud.net")
            row = next(s for s in handset.system.sockets if s.local[1] == arrived[0].peer[1])
            # the socket table shows the server's public-looking address, as on a real handset
            shown = (display_address("xtrapath1.izatcloud.net"), 80)
            assert (row.proto, row.uid, row.remote) == ("tcp", 1021, shown)
            assert internet.upstream_names()[shown[0]] == "xtrapath1.izatcloud.net"

    run(scenario)


def test_a_proxy_off_this_machine_is_unreachable() -> None:
    async def scenario() -> None:
        async with world() as (internet, handset):
            assert handset.system is not None
            handset.system.settings("global")["http_proxy"] = "192.0.2.10:8080"
            with pytest.raises(NetError, match="ENETUNREACH"):
                await client(handset).fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204"))
            assert handset.system.sockets == []
            assert internet.requests == type(internet.requests)()

    run(scenario)


def test_a_proxy_on_loopback_without_a_reverse_rule_is_refused_as_on_a_phone(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world() as (internet, handset), RecordingProxy(internet, tmp_path) as proxy:
            assert handset.system is not None
            handset.system.settings("global")["http_proxy"] = proxy.setting  # the host's proxy, no `adb reverse`
            with pytest.raises(NetError) as refused:
                await client(handset).fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204"))
            assert refused.value.java == "java.net.ConnectException"
            assert refused.value.message == (f"failed to connect to /127.0.0.1 (port {proxy.port}): connect failed: "
                                             "ECONNREFUSED (Connection refused)")
            assert proxy.seen == []
            proxy.reverse(handset)  # the rule: the same setting now reaches the proxy
            response = await client(handset).fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204"))
            assert response.status == 204
            assert len(proxy.seen) == 1

    run(scenario)


def test_idle_connections_close_into_time_wait_without_an_owner() -> None:
    async def scenario() -> None:
        async with world(scale=3000) as (_internet, handset):
            assert handset.system is not None
            await client(handset).fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204"))
            assert [s.state for s in handset.system.sockets] == ["ESTABLISHED"]
            system = handset.system
            await eventually(lambda: [s.state for s in system.sockets] == ["TIME_WAIT"], 5)  # after 300 s idle
            (row,) = system.sockets
            assert (row.uid, row.inode) == (0, 0)  # as the kernel shows a TIME_WAIT socket
            await eventually(lambda: system.sockets == [], 5)  # gone 60 s later

    run(scenario)


def test_a_connection_either_side_says_close_on_is_closed_not_pooled() -> None:
    # NetworkMonitor's probes send "Connection: close": the socket is closed at once, as on a phone
    async def scenario() -> None:
        async with world() as (_internet, handset):
            assert handset.system is not None
            await client(handset).fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204",
                                                (("Connection", "close"),)))
            assert [s.state for s in handset.system.sockets] == ["TIME_WAIT"]

    run(scenario)


def test_a_request_that_ends_as_the_system_goes_down_leaves_no_socket_pooled() -> None:
    # the pool went down with the system: a late response's connection has nowhere to wait and is closed
    async def scenario() -> None:
        async with world() as (_internet, handset):
            assert handset.system is not None
            assert handset.network is not None
            fetching = client(handset)
            handset.network.sockets.shutdown()
            await fetching.fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204"))
            assert [s.state for s in handset.system.sockets] == ["TIME_WAIT"]

    run(scenario)


def test_a_lying_client_connects_to_one_host_and_names_another() -> None:
    # hostile builds (audit F4): SNI and Host are the client's choice, the connection is not
    async def scenario() -> None:
        async with world() as (internet, handset):
            liar = client(handset, sni="android.clients.google.com", host_header="android.clients.google.com")
            response = await liar.fetch(Request("POST", "https://zzhc.vnet.cn/", body=b"x"))
            assert response.status == 200
            (got,) = internet.requests_to("zzhc.vnet.cn")
            assert (got.sni, got.header("Host")) == ("android.clients.google.com", "android.clients.google.com")
            assert internet.requests_to("android.clients.google.com") == []

    run(scenario)


def test_a_websocket_client_sends_its_payload_as_a_message_after_the_upgrade() -> None:
    async def scenario() -> None:
        async with world() as (internet, handset):
            ws = client(handset, websocket=True)
            response = await ws.fetch(Request("POST", "http://zzhc.vnet.cn/", (("User-Agent", "okhttp/3.10.0"),),
                                              b'{"IMEI1":"1"}'))
            assert response.status == 101
            assert response.body  # the responder's answer, as the server's first message
            upgrade, message = internet.requests_to("zzhc.vnet.cn")
            assert (upgrade.method, upgrade.body, upgrade.header("Upgrade")) == ("GET", b"", "websocket")
            assert (message.method, message.body) == ("WEBSOCKET", b'{"IMEI1":"1"}')

    run(scenario)
