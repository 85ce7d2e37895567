"""The sinkhole answers unapproved hosts itself: proven against real upstream listeners."""

from __future__ import annotations

import json
from pathlib import Path

from mitmproxy import connection
from mitmproxy.proxy import server_hooks
from mitmproxy.test import taddons, tflow

from devicelab.capture import Capture, CaptureConfig, HostRule
from devicelab.capture.sinkhole import SINKHOLED, Reply, Sinkhole
from tests.capture.helpers import ThrowawayPKI, Upstream, get_via_proxy, https_via_proxy, in_taddons

ZZHC_BODY = b"eyJNRUlEIjoiMzU2OTM4MDM1NjQzODA5IiwiU0lNMUlDQ0lEIjoiODk4NjAzMTIzNDU2Nzg5MDEyMyJ9"


def test_request_hook_answers_locally_and_marks_the_flow() -> None:
    replies = {"zzhc.vnet.cn": Reply(200, b'{"resultCode":"0"}', "application/json")}
    sinkhole = Sinkhole(HostRule(("*.vnet.cn",)), replies)
    zzhc = tflow.tflow()
    zzhc.request.host = "zzhc.vnet.cn"
    other = tflow.tflow()
    other.request.host = "api.vnet.cn"
    approved = tflow.tflow()

    def hooks(tctx: taddons.context) -> None:
        for flow in (zzhc, other, approved):
            sinkhole.request(flow)

    in_taddons(sinkhole, body=hooks)
    assert zzhc.response is not None
    assert zzhc.response.status_code == 200
    assert zzhc.response.headers["content-type"] == "application/json"
    assert zzhc.metadata[SINKHOLED] is True
    assert other.response is not None
    assert other.response.status_code == 204
    assert approved.response is None
    assert SINKHOLED not in approved.metadata


def test_server_connect_refuses_a_sinkholed_host_by_address_or_sni() -> None:
    sinkhole = Sinkhole(HostRule(("zzhc.vnet.cn",)))
    by_name = server_hooks.ServerConnectionHookData(connection.Server(address=("zzhc.vnet.cn", 80)),
                                                    tflow.tclient_conn())
    by_sni = server_hooks.ServerConnectionHookData(connection.Server(address=("203.0.113.7", 443), sni="zzhc.vnet.cn"),
                                                   tflow.tclient_conn())
    fine = server_hooks.ServerConnectionHookData(connection.Server(address=("example.org", 443)), tflow.tclient_conn())
    for data in (by_name, by_sni, fine):
        sinkhole.server_connect(data)
    assert by_name.server.error is not None
    assert "not contacted" in by_name.server.error
    assert by_sni.server.error
    assert fine.server.error is None
    assert sinkhole.refused == 2


def _sinkholing(tmp_path: Path, target: Upstream, ca: Path | None = None) -> Capture:
    # zzhc.vnet.cn is routed to a live listener: without the sinkhole the request WOULD reach it
    config = CaptureConfig(sinkhole=HostRule(("zzhc.vnet.cn",)), upstream_ca=ca,
                           upstream_hosts={"zzhc.vnet.cn": ("127.0.0.1", target.port),
                                           "upstream.lab.test": ("127.0.0.1", target.port)})
    return Capture(tmp_path / "capture", config)


def test_plain_http_leak_is_answered_and_recorded_but_never_sent(tmp_path: Path, http_upstream: Upstream) -> None:
    with _sinkholing(tmp_path, http_upstream) as capture:
        status, body = get_via_proxy(capture.address, "zzhc.vnet.cn", "/", body=ZZHC_BODY)
    assert (status, json.loads(body)) == (200, {"resultCode": "0", "resultDesc": "Success"})
    assert http_upstream.connections == 0
    (flow,) = capture.read().flows
    assert (flow.host, flow.request.method, flow.status) == ("zzhc.vnet.cn", "POST", 200)
    assert flow.request.content == ZZHC_BODY
    records = capture.read().records
    assert any(r.get("kind") == "request" and r["metadata"].get(SINKHOLED) for r in records)


def test_https_leak_is_answered_after_decryption_and_never_sent(tmp_path: Path, https_upstream: Upstream,
                                                                pki: ThrowawayPKI) -> None:
    with _sinkholing(tmp_path, https_upstream, pki.ca_file) as capture:
        assert capture.ca is not None
        status, _ = https_via_proxy(capture.address, "zzhc.vnet.cn", "/reg", capture.ca.cert_file, body=ZZHC_BODY)
        # the control: a host that is not sinkholed does reach the same listener
        control, _ = https_via_proxy(capture.address, "upstream.lab.test", "/ok", capture.ca.cert_file)
    assert (status, control) == (200, 200)
    assert https_upstream.connections == 1
    assert [path for _, path, _ in https_upstream.requests] == ["/ok"]
    leak = capture.read().flows[0]
    assert (leak.host, leak.tls, leak.request.path, leak.request.content) == ("zzhc.vnet.cn", True, "/reg", ZZHC_BODY)
