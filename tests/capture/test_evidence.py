"""Reading evidence logs back: merging, torn and damaged logs, coverage from socket records."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from devicelab.analysis.scan import coverage_gaps
from devicelab.capture.evidence import is_evidence, named_dns_gaps, read_evidence
from devicelab.capture.har import to_har
from devicelab.capture.records import HEADER_PREFIX, EvidenceLog
from devicelab.errors import ConfigError

HEADER = {"evidence": "devicelab-capture", "version": 1, "ts": 1.0, "mode": "regular",
          "canary_host": "canary.devicelab.test"}


def _request(flow_id: str, host: str = "zzhc.vnet.cn", body: bytes = b"MEID=356938035643809", port: int = 40001,
             **extra: object) -> dict[str, object]:
    return {"kind": "request", "id": flow_id, "ts": 10.0, "client": f"127.0.0.1:{port}", "mode": "regular",
            "client_tls": False, "sni": "", "method": "POST", "scheme": "http", "host": host, "pretty_host": host,
            "port": 80, "path": "/", "http_version": "HTTP/1.1", "headers": [["Host", host]],
            "body": base64.b64encode(body).decode(), "body_size": len(body), "body_truncated": False,
            "server": "", "metadata": {}, **extra}


def _write(path: Path, records: list[dict[str, object]], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in [HEADER, *records]) + tail)
    return path


def test_header_identifies_the_format(tmp_path: Path) -> None:
    log = EvidenceLog(tmp_path / "e.jsonl")
    log.write_header(ts=1.0)
    log.close()
    head = (tmp_path / "e.jsonl").read_bytes()[:64]
    assert head.startswith(HEADER_PREFIX)
    assert is_evidence(head)
    assert is_evidence(_write(tmp_path / "spaced.jsonl", []).read_bytes()[:64])
    assert not is_evidence(b'{"log": {"entries": []}}')


def test_request_and_response_merge_in_order_of_first_appearance(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [
        _request("a"), _request("b", host="example.com"),
        {"kind": "response", "id": "b", "ts": 11.0, "status": 204},
        {"kind": "response", "id": "a", "ts": 12.0, "status": 200},
        {"kind": "stop", "ts": 13.0},
    ])
    read = read_evidence(path)
    assert [(f.index, f.id, f.host, f.status) for f in read.flows] == [
        (0, "a", "zzhc.vnet.cn", 200), (1, "b", "example.com", 204)]
    assert read.flows[0].request.content == b"MEID=356938035643809"
    assert read.capture.error == ""


def test_torn_last_record_keeps_every_complete_flow_and_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [_request("a"), {"kind": "response", "id": "a", "ts": 11, "status": 200}],
                  tail=b'{"kind":"request","id":"b","ts":12,"client":"127.0.0.1:4')
    read = read_evidence(path)
    assert [f.id for f in read.flows] == ["a"]
    assert "torn" in read.capture.error
    gaps = coverage_gaps([read.capture])
    assert [g.kind for g in gaps] == ["capture_incomplete"]


def test_damaged_middle_line_is_skipped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    _write(path, [_request("a")])
    with path.open("ab") as fo:
        fo.write(b"\x00\x00garbage\n" + json.dumps(_request("b")).encode() + b"\n" + b'{"kind":"stop"}\n')
    read = read_evidence(path)
    assert [f.id for f in read.flows] == ["a", "b"]
    assert len(read.capture.skipped) == 1
    assert "line 3" in read.capture.skipped[0]


def test_a_log_without_stop_record_is_incomplete_unless_live(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [_request("a")])
    assert read_evidence(path, live=True).capture.error == ""
    assert "did not stop cleanly" in read_evidence(path).capture.error


@pytest.mark.parametrize("content", [b"", b"not json\n", b'{"log": {}}\n', b"[1,2]\n"])
def test_not_an_evidence_log_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="not a devicelab evidence log"):
        read_evidence(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_evidence(tmp_path / "nope.jsonl")


def test_failed_canary_is_a_gap_and_canary_flows_stay_out(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [
        _request("c", host="canary.devicelab.test", metadata={"devicelab.canary": True}),
        {"kind": "canary", "ok": False, "detail": "no decrypted request within 5 s"}, {"kind": "stop"},
    ])
    read = read_evidence(path)
    assert read.flows == ()
    assert [g.kind for g in read.gaps] == ["canary_failed"]
    assert len(read_evidence(path, include_canary=True).flows) == 1


def test_sockets_attribute_flows_and_reveal_bypasses(tmp_path: Path) -> None:
    sockets = [
        ["tcp", "127.0.0.1", 40001, "127.0.0.1", 8080, "ESTABLISHED", 10099, 1],  # the flow's proxy connection
        ["tcp", "10.0.2.15", 51000, "203.0.113.7", 443, "ESTABLISHED", 10099, 2],  # around the proxy
        ["udp", "10.0.2.15", 53000, "10.0.2.3", 53, "CONNECTED", 1051, 3],  # plain DNS
        ["tcp", "0.0.0.0", 5555, "0.0.0.0", 0, "LISTEN", 2000, 4],
    ]
    path = _write(tmp_path / "e.jsonl", [
        {"kind": "listening", "listen": ["127.0.0.1", 8080], "dial": ["127.0.0.1", 8080], "tunnel_ip": None},
        {"kind": "packages", "uids": {"10099": ["com.qualcomm.qti.autoregistration"]}},
        {"kind": "sockets", "ts": 10.5, "entries": sockets},
        _request("a"), {"kind": "sampler", "samples": 3}, {"kind": "stop"},
    ])
    read = read_evidence(path)
    assert read.flows[0].app == "com.qualcomm.qti.autoregistration"
    assert [(g.kind, g.host) for g in read.gaps] == [("unproxied_connection", "203.0.113.7")]
    assert "com.qualcomm.qti.autoregistration" in read.gaps[0].detail
    assert any("plain DNS" in note and "dns" in note for note in read.notes)


def test_a_connection_to_port_53_that_is_not_dns_is_a_gap(tmp_path: Path) -> None:
    # audit F1: before, any socket to port 53 became a note ("plain DNS") and the run passed
    path = _write(tmp_path / "e.jsonl", [
        {"kind": "listening", "listen": ["127.0.0.1", 8080], "dial": ["127.0.0.1", 8080], "tunnel_ip": None},
        {"kind": "packages", "uids": {"10099": ["com.qualcomm.qti.autoregistration"]}},
        {"kind": "sockets", "ts": 10.5, "entries": [
            ["tcp", "10.0.2.15", 51000, "198.18.7.7", 53, "ESTABLISHED", 10099, 2]]},
        {"kind": "sampler", "samples": 3}, {"kind": "stop"},
    ])
    read = read_evidence(path)
    assert [(g.kind, g.host) for g in read.gaps] == [("unproxied_connection", "198.18.7.7")]
    assert not any("plain DNS" in note for note in read.notes)


def test_flows_name_their_real_destination_beside_the_clients_names(tmp_path: Path) -> None:
    # audit F4: the SNI/Host a client sends is its own choice; the CONNECT target is where it went
    path = _write(tmp_path / "e.jsonl", [
        _request("a", host="www.google.com", scheme="https", client_tls=True, sni="www.google.com",
                 connect="zzhc.vnet.cn:443"),
        {"kind": "tls_failed", "id": "tls-1", "ts": 11.0, "client": "127.0.0.1:40002", "side": "client",
         "sni": "android.clients.google.com", "server": "zzhc.vnet.cn:443", "error": "unknown ca"},
        _request("b", host="example.com"), {"kind": "stop"},
    ])
    flows = read_evidence(path).flows
    assert [(f.host, f.destination, f.names) for f in flows] == [
        ("www.google.com", "zzhc.vnet.cn", ("www.google.com", "zzhc.vnet.cn")),
        ("android.clients.google.com", "zzhc.vnet.cn", ("android.clients.google.com", "zzhc.vnet.cn")),
        ("example.com", "example.com", ("example.com",)),
    ]


def test_unconnected_udp_opened_in_the_window_is_a_gap_without_a_host(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [
        {"kind": "listening", "listen": ["127.0.0.1", 8080], "dial": ["127.0.0.1", 8080], "tunnel_ip": None},
        {"kind": "sockets_baseline", "ts": 9.0, "entries": [["udp", "0.0.0.0", 68, "0.0.0.0", 0, "UNCONN", 1000, 1]]},
        {"kind": "sockets", "ts": 10.5, "entries": [["udp", "0.0.0.0", 40123, "0.0.0.0", 0, "UNCONN", 10099, 2]]},
        {"kind": "sampler", "samples": 3}, {"kind": "stop"},
    ])
    (gap,) = read_evidence(path).gaps
    assert (gap.kind, gap.host) == ("unproxied_connection", "")
    assert "local port 40123" in gap.detail  # the baseline's DHCP socket predates the proxy: not a gap


def test_udp_to_port_53_of_a_host_the_lab_dns_names_is_a_gap_named_by_it(tmp_path: Path) -> None:
    # the lab's DNS gave 198.18.7.7 out for zzhc.vnet.cn: datagrams to its port 53 are not DNS
    path = _write(tmp_path / "e.jsonl", [
        {"kind": "listening", "listen": ["127.0.0.1", 8080], "dial": ["127.0.0.1", 8080], "tunnel_ip": None},
        {"kind": "sockets", "ts": 10.5, "entries": [
            ["udp", "10.0.2.15", 53000, "10.0.2.3", 53, "CONNECTED", 1051, 3],
            ["udp", "10.0.2.15", 53001, "198.18.7.7", 53, "CONNECTED", 10099, 4]]},
        {"kind": "sampler", "samples": 3}, {"kind": "stop"},
    ])
    read = read_evidence(path)
    assert read.gaps == ()
    gaps = named_dns_gaps(read, {"198.18.7.7": "zzhc.vnet.cn"})
    assert [(g.kind, g.host) for g in gaps] == [("unproxied_connection", "zzhc.vnet.cn")]
    assert named_dns_gaps(read, {}) == []  # a real lab's resolver: DNS, a note


def test_unreadable_socket_table_is_a_gap(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [{"kind": "sampler", "samples": 0, "failures": 5}, {"kind": "stop"}])
    assert [g.kind for g in read_evidence(path).gaps] == ["unproxied_connection"]


def test_har_export_keeps_requests_and_bodies(tmp_path: Path) -> None:
    from devicelab.analysis.readers import read_har

    records = [_request("a"), {"kind": "response", "id": "a", "ts": 11.0, "status": 200, "headers": [],
                               "body": "", "body_size": 0}]
    har = tmp_path / "c.har"
    har.write_text(json.dumps(to_har(records)))
    (flow,) = read_har(har).flows
    assert (flow.host, flow.status, flow.request.content) == ("zzhc.vnet.cn", 200, b"MEID=356938035643809")


def test_scan_of_an_evidence_log_keeps_the_gaps_it_stores(tmp_path: Path) -> None:
    # F7: re-judging a gate's evidence offline must not turn its inconclusive into a pass
    from devicelab.capture.files import scan_files
    from devicelab.model.identity import Identity
    from devicelab.model.policy import Policy

    path = _write(tmp_path / "e.jsonl", [
        _request("a", host="ok.example", body=b"nothing"),
        {"kind": "canary", "ok": False, "detail": "no decrypted request within 5 s"},
        {"kind": "sampler", "samples": 0, "failures": 5}, {"kind": "stop"},
    ])
    policy = Policy(name="p", approved=({"host": "ok.example"},))  # type: ignore[arg-type]
    report = scan_files([path], Identity(imei=("356938035643809",)), policy)
    assert report.verdict.outcome == "inconclusive"
    assert {g.kind for g in report.verdict.counted_gaps} == {"canary_failed", "unproxied_connection"}


def test_a_body_cut_at_the_size_limit_is_a_body_truncated_gap_naming_its_host(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [
        _request("a", host="activation.hmdglobal.com", body=b"x" * 10, body_truncated=True, body_size=99),
        {"kind": "stop"},
    ])
    assert [(g.kind, g.host) for g in read_evidence(path).gaps] == [("body_truncated", "activation.hmdglobal.com")]


def test_the_ca_not_installed_is_a_gap_only_when_tls_went_unread(tmp_path: Path) -> None:
    note = {"kind": "note", "note": "CA not installable: TLS will not be decrypted (user build: no root)"}
    tls = {"kind": "tls_failed", "id": "t", "ts": 11.0, "client": "127.0.0.1:40002", "sni": "www.google.com",
           "server": "142.250.74.36:443", "error": "unknown ca", "side": "client"}
    plain = read_evidence(_write(tmp_path / "a.jsonl", [note, _request("a"), {"kind": "stop"}]))
    assert "ca_not_installed" not in {g.kind for g in plain.gaps}
    closed = read_evidence(_write(tmp_path / "b.jsonl", [note, tls, {"kind": "stop"}]))
    (gap,) = [g for g in closed.gaps if g.kind == "ca_not_installed"]
    assert "user build" in gap.detail
    assert "1 TLS flow" in gap.detail
