from __future__ import annotations

import http.client
import ssl
from pathlib import Path

from mitmproxy import connection
from mitmproxy.proxy import server_hooks
from mitmproxy.test import tflow

from devicelab.capture import Capture, CaptureConfig
from devicelab.capture.routing import LabRouting
from tests.capture.helpers import ThrowawayPKI, Upstream, get_via_proxy


def _data(address: tuple[str, int], sni: str | None = None) -> server_hooks.ServerConnectionHookData:
    return server_hooks.ServerConnectionHookData(connection.Server(address=address, sni=sni), tflow.tclient_conn())


def test_host_and_host_port_keys_rewrite_the_address_and_keep_the_sni() -> None:
    routing = LabRouting({"Zzhc.Vnet.Cn": ("127.0.0.1", 8001), "zzhc.vnet.cn:443": ("127.0.0.1", 8443)})
    plain, tls = _data(("zzhc.vnet.cn", 80)), _data(("zzhc.vnet.cn", 443), sni="zzhc.vnet.cn")
    routing.server_connect(plain)
    routing.server_connect(tls)
    assert plain.server.address == ("127.0.0.1", 8001)
    assert (tls.server.address, tls.server.sni) == (("127.0.0.1", 8443), "zzhc.vnet.cn")


def test_transparent_modes_are_routed_by_sni() -> None:
    routing = LabRouting({"android.clients.google.com": ("127.0.0.1", 9443)})
    data = _data(("142.250.74.14", 443), sni="android.clients.google.com")
    routing.server_connect(data)
    assert data.server.address == ("127.0.0.1", 9443)


def test_unmapped_hosts_use_real_dns_unless_the_lab_says_only() -> None:
    open_lab, closed_lab = LabRouting({}), LabRouting({}, only=True)
    first, second = _data(("example.org", 443)), _data(("example.org", 443))
    open_lab.server_connect(first)
    closed_lab.server_connect(second)
    assert (first.server.address, first.server.error) == (("example.org", 443), None)
    assert second.server.error is not None
    assert "not in the lab's hosts map" in second.server.error


def test_an_already_refused_connection_is_left_alone() -> None:
    data = _data(("zzhc.vnet.cn", 80))
    data.server.error = "sinkholed"
    LabRouting({"zzhc.vnet.cn": ("127.0.0.1", 1)}).server_connect(data)
    assert (data.server.address, data.server.error) == (("zzhc.vnet.cn", 80), "sinkholed")


def test_request_hook_changes_only_the_dialled_address() -> None:
    routing = LabRouting({"lab.test": ("127.0.0.1", 8001)})
    flow = tflow.tflow()
    flow.request.host = "lab.test"
    flow.request.headers["Host"] = "lab.test"
    flow.request.port = 80
    routing.request(flow)
    assert (flow.request.data.host, flow.request.port) == ("127.0.0.1", 8001)
    assert flow.request.host_header == "lab.test"
    assert flow.request.pretty_host == "lab.test"
    # the connection it opens is to a lab address already: server_connect leaves it alone, even if `only`,
    # and gives the upstream TLS the name back (mitmproxy sets the dialled IP as SNI)
    data = _data(("127.0.0.1", 8001), sni="127.0.0.1")
    data.client.sni = None  # no client SNI: the map's only name for that address
    LabRouting({"lab.test": ("127.0.0.1", 8001)}, only=True).server_connect(data)
    assert (data.server.address, data.server.error, data.server.sni) == (("127.0.0.1", 8001), None, "lab.test")
    tunnelled = _data(("127.0.0.1", 8001), sni="127.0.0.1")
    tunnelled.client.sni = "www.lab.test"  # the handset's own SNI wins
    routing.server_connect(tunnelled)
    assert tunnelled.server.sni == "www.lab.test"


def test_keep_alive_connections_are_reused_through_routing(tmp_path: Path, pki: ThrowawayPKI,
                                                           http_upstream: Upstream, https_upstream: Upstream) -> None:
    config = CaptureConfig(upstream_hosts={"lab.test": ("127.0.0.1", http_upstream.port),
                                           "upstream.lab.test": ("127.0.0.1", https_upstream.port)},
                           upstream_ca=pki.ca_file, upstream_only=True)
    with Capture(tmp_path / "c", config) as capture:
        assert capture.ca is not None
        plain = http.client.HTTPConnection(*capture.address, timeout=5)
        secure = http.client.HTTPSConnection(*capture.address, timeout=5,
                                             context=ssl.create_default_context(cafile=str(capture.ca.cert_file)))
        secure.set_tunnel("upstream.lab.test", 443)
        try:
            for n in range(8):  # more than mitmproxy's 5 connections per address
                plain.request("GET", f"http://lab.test/{n}")
                secure.request("GET", f"/{n}")
                assert (_status(plain), _status(secure)) == (200, 200)
        finally:
            plain.close()
            secure.close()
        status, _ = get_via_proxy(capture.address, "elsewhere.example", "/")
    assert (http_upstream.connections, https_upstream.connections) == (1, 1)
    assert status == 502  # not in the lab's map: refused, not looked up
    flows = capture.read().flows
    assert {f.host for f in flows[:16]} == {"lab.test", "upstream.lab.test"}  # the evidence keeps the names
    assert flows[-1].host == "elsewhere.example"
    assert "not in the lab's hosts map" in flows[-1].error


def _status(conn: http.client.HTTPConnection) -> int:
    response = conn.getresponse()
    response.read()
    return response.status
