"""The recorder addon through mitmproxy's own test helpers (taddons / tflow): no network."""

from __future__ import annotations

import json
from pathlib import Path

from mitmproxy import options, tls
from mitmproxy.proxy.context import Context
from mitmproxy.test import taddons, tflow

from devicelab.capture.evidence import read_evidence
from devicelab.capture.recorder import Recorder
from devicelab.capture.records import EvidenceLog
from devicelab.model.traffic import APP_METADATA_KEY
from tests.capture.helpers import in_taddons


def _log(path: Path) -> EvidenceLog:
    log = EvidenceLog(path)
    log.write_header(ts=0.0, mode="regular")
    return log


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def test_request_is_on_disk_before_the_response_exists(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    recorder = Recorder(_log(path), max_body_bytes=1024, max_stream_bytes=1024)
    flow = tflow.tflow()
    flow.request.content = b"imei=356938035643809"
    in_taddons(recorder, body=lambda tctx: recorder.request(flow))
    # nothing buffered: the record is readable while the log is still open
    (record,) = _records(path)
    assert record["kind"] == "request"
    assert record["id"] == flow.id
    assert record["pretty_host"] == flow.request.pretty_host
    assert record["host"] == flow.request.host
    assert record["client"] == "127.0.0.1:22"
    assert record["mode"] == "regular"


def test_full_cycle_merges_into_one_flow_with_status(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    recorder = Recorder(_log(path), max_body_bytes=1024, max_stream_bytes=1024)
    flow = tflow.tflow(resp=True)
    flow.request.content = b'{"IMEI1":"356938035643809"}'

    in_taddons(recorder, body=lambda tctx: tctx.cycle(recorder, flow))  # type: ignore[no-untyped-call]
    kinds = [r["kind"] for r in _records(path)]
    assert kinds == ["request", "response"]
    read = read_evidence(path, live=True)
    (got,) = read.flows
    assert got.id == flow.id
    assert got.status == 200
    assert got.request.content == b'{"IMEI1":"356938035643809"}'
    assert got.request.header("header") == "qvalue"
    assert read.capture.error == ""


def test_large_body_is_truncated_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    recorder = Recorder(_log(path), max_body_bytes=4, max_stream_bytes=1024)
    flow = tflow.tflow()
    flow.request.content = b"0123456789"
    in_taddons(recorder, body=lambda tctx: recorder.request(flow))
    (record,) = _records(path)
    assert (record["body_size"], record["body_truncated"]) == (10, True)
    read = read_evidence(path, live=True)
    assert read.flows[0].request.content == b"0123"
    assert [g.kind for g in read.gaps] == ["body_truncated"]  # its own kind: a policy may accept it by name
    assert "4 of 10 bytes" in read.gaps[0].detail


def test_app_known_at_request_time_goes_into_metadata(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    asked: list[tuple[str, int]] = []

    def resolve(peer: tuple[str, int]) -> str | None:
        asked.append(peer)
        return "com.qualcomm.qti.autoregistration"

    recorder = Recorder(_log(path), max_body_bytes=64, max_stream_bytes=64, resolve_app=resolve)
    flow = tflow.tflow()
    in_taddons(recorder, body=lambda tctx: recorder.request(flow))
    assert asked == [("127.0.0.1", 22)]
    assert flow.metadata[APP_METADATA_KEY] == "com.qualcomm.qti.autoregistration"
    assert read_evidence(path, live=True).flows[0].app == "com.qualcomm.qti.autoregistration"


def test_refused_tls_handshake_is_recorded_with_its_sni(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    recorder = Recorder(_log(path), max_body_bytes=64, max_stream_bytes=64)
    client = tflow.tclient_conn()
    client.sni = "pinned.example.com"
    client.error = "The client does not trust the proxy's certificate"
    context = Context(client, options.Options())
    context.server.address = ("pinned.example.com", 443)
    in_taddons(recorder, body=lambda tctx: recorder.tls_failed_client(tls.TlsData(client, context)))
    (record,) = _records(path)
    assert (record["kind"], record["sni"], record["side"]) == ("tls_failed", "pinned.example.com", "client")
    (flow,) = read_evidence(path, live=True).flows
    assert flow.undecrypted_tls
    assert flow.host == "pinned.example.com"
    assert flow.request.port == 443
    assert "does not trust" in flow.error


def test_dns_questions_and_raw_tcp_client_bytes(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    recorder = Recorder(_log(path), max_body_bytes=64, max_stream_bytes=3)
    dns_flow = tflow.tdnsflow()
    tcp_flow = tflow.ttcpflow()

    def hooks(tctx: taddons.context) -> None:
        recorder.dns_request(dns_flow)
        recorder.tcp_start(tcp_flow)
        messages = list(tcp_flow.messages)
        for index in range(len(messages)):
            tcp_flow.messages = messages[: index + 1]
            recorder.tcp_message(tcp_flow)
        recorder.tcp_end(tcp_flow)

    in_taddons(recorder, body=hooks)
    read = read_evidence(path, live=True)
    dns_read, tcp_read = read.flows
    assert (dns_read.protocol, dns_read.host) == ("dns", "dns.google")
    assert tcp_read.protocol == "tcp"
    assert tcp_read.request.content == b"hel"  # client bytes only, cut at max_stream_bytes
    assert any("first 3 client bytes" in g.detail for g in read.gaps)


def test_http_error_is_kept_with_the_flow(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    recorder = Recorder(_log(path), max_body_bytes=64, max_stream_bytes=64)
    flow = tflow.tflow(err=True)

    def hooks(tctx: taddons.context) -> None:
        recorder.request(flow)
        recorder.error(flow)

    in_taddons(recorder, body=hooks)
    (got,) = read_evidence(path, live=True).flows
    assert flow.error is not None
    assert got.error == flow.error.msg
    assert got.status is None


def test_a_closed_log_never_breaks_a_hook(tmp_path: Path) -> None:
    log = _log(tmp_path / "evidence.jsonl")
    recorder = Recorder(log, max_body_bytes=64, max_stream_bytes=64)
    log.close()
    in_taddons(recorder, body=lambda tctx: recorder.request(tflow.tflow()))
    assert log.errors == 1


def test_websocket_messages_from_the_handset_are_recorded_and_read_back(tmp_path: Path) -> None:
    # audit F5: the recorder had no websocket hook, so identifiers in a first frame were never seen
    path = tmp_path / "evidence.jsonl"
    recorder = Recorder(_log(path), max_body_bytes=1024, max_stream_bytes=8)
    flow = tflow.twebsocketflow()  # client: b"hello binary", "hello text"; server: "it's me"
    assert flow.websocket is not None
    messages = list(flow.websocket.messages)

    def body(tctx: object) -> None:
        recorder.request(flow)
        for n in range(1, len(messages) + 1):
            flow.websocket.messages = messages[:n]  # type: ignore[union-attr]
            recorder.websocket_message(flow)

    in_taddons(recorder, body=body)
    records = [r for r in _records(path) if r["kind"] == "websocket"]
    assert [(r["text"], r["truncated"]) for r in records] == [(False, True), (True, True)]
    read = read_evidence(path, live=True)
    upgrade, first, second = read.flows
    assert (first.request.method, first.request.content, first.id) == ("WEBSOCKET", b"hello bi", f"{flow.id}/ws0")
    assert second.request.content == b""  # the budget of 8 bytes a flow was spent on the first message
    assert (first.host, first.index, second.index) == (upgrade.host, 1, 2)
    assert [g.kind for g in read.gaps] == ["capture_incomplete", "capture_incomplete"]  # both cut: counted


def test_a_request_in_a_tunnel_records_the_connect_target_as_its_destination(tmp_path: Path) -> None:
    # audit F4: inside a tunnel mitmproxy takes the host from the Host header, the client's own choice
    path = tmp_path / "evidence.jsonl"
    recorder = Recorder(_log(path), max_body_bytes=1024, max_stream_bytes=1024)
    connect = tflow.tflow()
    connect.request.method, connect.request.host, connect.request.port = "CONNECT", "zzhc.vnet.cn", 443
    inner = tflow.tflow()
    inner.client_conn = connect.client_conn
    inner.request.scheme, inner.request.host = "https", "android.clients.google.com"
    inner.request.headers["Host"] = "android.clients.google.com"

    def body(tctx: object) -> None:
        recorder.http_connect(connect)
        recorder.request(inner)
        recorder.client_disconnected(connect.client_conn)

    in_taddons(recorder, body=body)
    assert _records(path)[0]["connect"] == "zzhc.vnet.cn:443"
    (flow,) = read_evidence(path, live=True).flows
    assert (flow.host, flow.destination) == ("android.clients.google.com", "zzhc.vnet.cn")
