from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mitmproxy import io as mitmio
from mitmproxy import tcp
from mitmproxy.test import tflow

from devicelab.analysis.readers import from_mitmproxy, read_capture
from devicelab.errors import ConfigError
from devicelab.model.traffic import APP_METADATA_KEY
from tests.analysis import helpers as h

FIRST_RUN = h.DATA / "reporthar_android_first-run.har"


def _http_flow(i: int, body: bytes = b"") -> object:
    flow = tflow.tflow(resp=True)
    flow.request.host = "collector.example"
    flow.request.path = f"/t?i={i}"
    flow.request.content = body
    flow.metadata[APP_METADATA_KEY] = "com.evenwell.autoregistration"
    return flow


def _write(path: Path, flows: list[object]) -> None:
    with path.open("wb") as fo:
        writer = mitmio.FlowWriter(fo)
        for flow in flows:
            writer.add(flow)  # type: ignore[arg-type]


def test_har_entries_become_flows() -> None:
    capture = read_capture(FIRST_RUN)
    assert (capture.format, len(capture.flows), capture.error) == ("har", 16, "")
    flow = capture.flows[9]
    assert (flow.index, flow.host, flow.request.method, flow.tls) == (9, "api2.branch.io", "POST", True)
    assert flow.request.url == "https://api2.branch.io/v1/open"
    assert flow.request.header("content-type") == "application/json"
    assert json.loads(flow.request.content)["hardware_id"] == "048f96ec-220f-4860-95c4-62b2565dbbd3"


def test_torn_har_keeps_complete_entries(tmp_path: Path) -> None:
    text = FIRST_RUN.read_text()
    ends = [m.end() for m in re.finditer(r'"serverIPAddress": "[^"]*"', text)]
    torn = tmp_path / "torn.har"
    torn.write_text(text[: ends[10] + 5])  # just past entry 10's last field: inside its closing brace
    capture = read_capture(torn)
    assert len(capture.flows) in (10, 11)
    assert "ends early" in capture.error
    assert [f.index for f in capture.flows] == list(range(len(capture.flows)))


@pytest.mark.parametrize(("doc", "field"), [
    ({"log": {}}, "log.entries"),
    ({"log": {"entries": [{"request": {"method": "GET"}}]}}, "log.entries.0.request.url"),
    ({"log": {"entries": [{"request": {"method": "GET", "url": "/no-host"}}]}}, "log.entries.0.request.url"),
])
def test_bad_har_names_the_field(tmp_path: Path, doc: object, field: str) -> None:
    path = tmp_path / "bad.har"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        read_capture(path)
    assert (info.value.path, info.value.field) == (str(path), field)


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not flows\n")
    with pytest.raises(ConfigError, match="not a HAR or mitmproxy flow file"):
        read_capture(path)
    with pytest.raises(ConfigError, match="not found"):
        read_capture(tmp_path / "missing.mitm")


def test_mitmproxy_flows_keep_app_tls_and_raw_body(tmp_path: Path) -> None:
    path = tmp_path / "c.mitm"
    _write(path, [_http_flow(0, b"imei=" + h.IMEI.encode()), _http_flow(1)])
    capture = read_capture(path)
    assert (capture.format, len(capture.flows), capture.error) == ("mitmproxy", 2, "")
    flow = capture.flows[0]
    assert flow.app == "com.evenwell.autoregistration"
    assert flow.request.content == b"imei=" + h.IMEI.encode()
    assert flow.request.content_encoded
    assert flow.request.path == "/t?i=0"
    assert flow.client == "127.0.0.1:22"


def test_torn_flow_file_keeps_complete_flows(tmp_path: Path) -> None:
    path = tmp_path / "torn.mitm"
    _write(path, [_http_flow(i, b"x" * 100) for i in range(5)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # SIGKILL mid-record
    capture = read_capture(path)
    assert len(capture.flows) == 4
    assert "unreadable after 4 flows" in capture.error


def test_request_then_response_records_of_one_flow_collapse(tmp_path: Path) -> None:
    early = _http_flow(0)
    early.response = None  # type: ignore[attr-defined]
    late = early.copy()  # type: ignore[attr-defined]
    late.id = early.id  # type: ignore[attr-defined]
    late.response = tflow.tresp()
    path = tmp_path / "log.mitm"
    _write(path, [early, _http_flow(1), late])
    capture = read_capture(path)
    assert [f.status for f in capture.flows] == [200, 200]


def test_passed_through_tls_and_dns() -> None:
    passthrough = tflow.ttcpflow()
    passthrough.client_conn.timestamp_tls_setup = None  # the proxy never opened the TLS
    passthrough.server_conn.sni = "pinned.example"
    passthrough.messages = [tcp.TCPMessage(True, b"\x16\x03\x01\x02\x00ClientHello")]
    flow = from_mitmproxy(passthrough, 0, "live")
    assert flow is not None
    assert flow.undecrypted_tls
    assert flow.host == "pinned.example"
    dns = from_mitmproxy(tflow.tdnsflow(), 1, "live")
    assert dns is not None
    assert (dns.protocol, dns.host) == ("dns", "dns.google")


def test_websocket_messages_the_handset_sent_are_flows_in_flow_files(tmp_path: Path) -> None:
    # audit F5: flow.websocket was ignored, so identifiers in a message passed
    flow = tflow.twebsocketflow()
    assert flow.websocket is not None
    flow.websocket.messages[1].content = ('{"imei":"' + h.IMEI + '"}').encode()
    path = tmp_path / "ws.mitm"
    _write(path, [flow])
    capture = read_capture(path)
    assert [(f.index, f.request.method, f.request.content) for f in capture.flows] == [
        (0, "GET", b""), (1, "WEBSOCKET", b"hello binary"), (2, "WEBSOCKET", f'{{"imei":"{h.IMEI}"}}'.encode())]
    assert "imei" in h.kinds(capture.flows[2])


def test_har_websocket_messages_the_handset_sent_are_flows(tmp_path: Path) -> None:
    import base64

    entry = {"request": {"method": "GET", "url": "https://push.example/socket", "headers": []},
             "response": {"status": 101}, "_resourceType": "websocket", "_webSocketMessages": [
                 {"type": "send", "time": 1.0, "opcode": 1, "data": f"imei={h.IMEI}"},
                 {"type": "receive", "time": 1.1, "opcode": 1, "data": "ok"},
                 {"type": "send", "time": 1.2, "opcode": 2, "data": base64.b64encode(b"\x00\x01").decode()}]}
    path = tmp_path / "ws.har"
    path.write_text(json.dumps({"log": {"entries": [entry, {"request": {"method": "GET",
                                                                         "url": "http://next.example/"}}]}}))
    flows = read_capture(path).flows
    assert [(f.index, f.request.method, f.request.content, f.host) for f in flows] == [
        (0, "GET", b"", "push.example"), (1, "WEBSOCKET", f"imei={h.IMEI}".encode(), "push.example"),
        (2, "WEBSOCKET", b"\x00\x01", "push.example"), (3, "GET", b"", "next.example")]
    assert "imei" in h.kinds(flows[1])
    assert flows[1].request.scheme == "wss"


def test_flow_files_keep_the_real_destination_beside_the_clients_names(tmp_path: Path) -> None:
    # audit F4: a tunnel to zzhc.vnet.cn whose Host and SNI say android.clients.google.com
    flow = tflow.tflow(resp=True)
    flow.request.scheme, flow.request.host, flow.request.port = "https", "android.clients.google.com", 443
    flow.request.headers["Host"] = "android.clients.google.com"
    flow.server_conn.address = ("zzhc.vnet.cn", 443)
    flow.client_conn.sni = "android.clients.google.com"
    path = tmp_path / "spoof.mitm"
    _write(path, [flow])
    (got,) = read_capture(path).flows
    assert (got.host, got.destination, got.names) == (
        "android.clients.google.com", "zzhc.vnet.cn", ("android.clients.google.com", "zzhc.vnet.cn"))


@pytest.mark.parametrize("content", [b"", b"  \n"])
def test_an_empty_file_is_bad_input_not_an_inconclusive_scan(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.har"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="the file is empty: not a capture"):
        read_capture(path)
