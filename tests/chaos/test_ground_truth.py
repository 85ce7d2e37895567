"""Lost flows against ground truth: the virtual internet logs every request it answers (through a
proxy or straight from a handset), and a request it answered through the proxy that the run's
evidence does not show is counted lost."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from devicelab.virtual.ground_truth import lost_flows
from devicelab.virtual.net.httpclient import Caller, Request
from devicelab.virtual.net.internet import VirtualInternet
from devicelab.virtual.net.received import read_received
from tests.virtual.net_helpers import RecordingProxy, boot, quiet, run

HEADER = {"evidence": "devicelab-capture", "version": 1, "ts": 1.0, "mode": "regular",
          "canary_host": "canary.devicelab.test"}


def _request(flow_id: str, host: str, method: str = "POST", path: str = "/") -> dict[str, object]:
    return {"kind": "request", "id": flow_id, "ts": 10.0, "client": "127.0.0.1:40001", "mode": "regular",
            "client_tls": False, "sni": "", "method": method, "scheme": "http", "host": host, "pretty_host": host,
            "port": 80, "path": path, "http_version": "HTTP/1.1", "headers": [["Host", host]],
            "body": base64.b64encode(b"x").decode(), "body_size": 1, "body_truncated": False, "server": "",
            "metadata": {}}


def _answered(host: str, path: str, conn: int, *, method: str = "POST", via: str = "proxy") -> dict[str, object]:
    return {"ts": 11.0, "host": host, "server": host, "method": method, "path": path, "status": 200, "tls": False,
            "conn": conn, "via": via, "handset": "lab-0" if via == "handset" else ""}


def _run_folder(tmp_path: Path, evidence: list[dict[str, object]], answered: list[dict[str, object]],
                shown: list[dict[str, object]] | None = None) -> tuple[Path, Path]:
    out = tmp_path / "out"
    folder = out / "evidence" / "virtual-0"
    folder.mkdir(parents=True)
    (folder / "evidence.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [HEADER, *evidence,
                                                                                   {"kind": "stop"}]))
    if shown is not None:
        verdict = {"handsets": [{"handset": {"id": "virtual-0"}, "judged": True, "flows": shown}]}
        (out / "verdict.json").write_text(json.dumps(verdict))
    received = tmp_path / "received.jsonl"
    # a lab killed mid-write leaves a torn last line: skipped, never fatal
    received.write_text("".join(json.dumps(a) + "\n" for a in answered) + '{"ts": 12.0, "host": "zz')
    return out, received


def test_a_request_answered_through_the_proxy_but_missing_from_the_evidence_is_lost(tmp_path: Path) -> None:
    evidence = [_request("a", "zzhc.vnet.cn", path="/register"), {"kind": "response", "id": "a", "status": 200}]
    answered = [
        _answered("zzhc.vnet.cn", "/register", 1),  # in the evidence
        _answered("zzhc.vnet.cn", "/register", 1),  # a second one on that connection: not
        _answered("push.hmdglobal.com", "/v1/ping", 2),  # not either
        _answered("connectivitycheck.gstatic.com", "/generate_204", 3, method="GET", via="handset"),  # never proxied
    ]
    out, received = _run_folder(tmp_path, evidence, answered, shown=[{"host": "zzhc.vnet.cn", "count": 1}])
    assert len(read_received(received)) == 4
    assert lost_flows(out, received) == 2
    assert lost_flows(out) == 0  # without ground truth only the verdict is checked: it shows the one flow


def test_a_connection_the_proxy_passed_through_stands_for_the_requests_inside(tmp_path: Path) -> None:
    stream = {"kind": "stream_start", "id": "s", "ts": 10.0, "client": "127.0.0.1:40002", "protocol": "tcp",
              "server": "142.250.74.4:443", "sni": "www.google.com", "client_tls": False}
    answered = [_answered("www.google.com", "/generate_204", 5, method="GET"),
                _answered("www.google.com", "/favicon.ico", 5, method="GET"),  # same connection: one stream
                _answered("www.google.com", "/generate_204", 6, method="GET")]  # a second connection: no stream
    out, received = _run_folder(tmp_path, [stream, {"kind": "stream_end", "id": "s", "ts": 11.0}], answered)
    assert lost_flows(out, received) == 1


def test_the_internet_logs_each_answered_request_and_whose_socket_sent_it(tmp_path: Path) -> None:
    log = tmp_path / "state" / "received.jsonl"

    async def scenario() -> None:
        internet = VirtualInternet(received_log=log)
        await internet.start()
        handset = await boot(internet, quiet("nokia7plus-00WW_3_22C"), sim="telenor-no", scale=60)
        proxy = await RecordingProxy(internet, tmp_path).start()
        try:
            system = handset.system
            assert system is not None
            assert handset.network is not None
            client = handset.network.client(system, Caller("com.android.chrome", 10080))
            await client.fetch(Request("GET", "http://connectivitycheck.gstatic.com/generate_204?direct=1"))
            proxy.reverse(handset)
            system.settings("global")["http_proxy"] = proxy.setting
            await client.fetch(Request("POST", "http://zzhc.vnet.cn/register", body=b"x=1"))
        finally:
            await proxy.stop()
            await handset.power_off()
            await internet.stop()

    run(scenario)
    direct, proxied = read_received(log)
    assert (direct.via, direct.handset, direct.host, direct.method, direct.path, direct.status) == (
        "handset", "net", "connectivitycheck.gstatic.com", "GET", "/generate_204?direct=1", 204)
    assert (proxied.via, proxied.handset, proxied.host, proxied.method, proxied.path) == (
        "proxy", "", "zzhc.vnet.cn", "POST", "/register")
    assert direct.conn != proxied.conn
    assert log.read_text().endswith("\n")  # every line complete: flushed as written
