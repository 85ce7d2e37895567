"""The Capture service with a real proxy on port 0, real clients and real loopback upstreams."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from pathlib import Path

import mitmproxy_rs
import pytest

from devicelab.analysis.readers import read_har
from devicelab.capture import Capture, CaptureConfig
from devicelab.capture import ca as ca_module
from devicelab.capture.coverage import parse_proc_net
from devicelab.capture.wireguard import read_keys
from devicelab.errors import CaptureError
from tests.capture.helpers import ThrowawayPKI, Upstream, https_via_proxy


def _lab(pki: ThrowawayPKI, server: Upstream, **options: object) -> CaptureConfig:
    return CaptureConfig(upstream_hosts={"upstream.lab.test": ("127.0.0.1", server.port)}, upstream_ca=pki.ca_file,
                         upstream_only=True, **options)  # type: ignore[arg-type]


def _host_listeners(port: int, *names: str) -> list[str]:
    found = []
    for name in names:
        text = Path(f"/proc/net/{name}").read_text() if Path(f"/proc/net/{name}").exists() else ""
        found += [s.local_ip for s in parse_proc_net(text, name) if s.local_port == port and s.state in
                  ("LISTEN", "UNCONN")]
    return found


def test_decrypted_https_request_is_recorded_in_full(tmp_path: Path, pki: ThrowawayPKI,
                                                     https_upstream: Upstream) -> None:
    with Capture(tmp_path / "c", _lab(pki, https_upstream, label="FAKE0001")) as capture:
        assert capture.ca is not None
        status, body = https_via_proxy(capture.address, "upstream.lab.test", "/checkin?id=1", capture.ca.cert_file,
                                       body=b"IMEI=356938035643809")
    assert (status, body) == (200, b"upstream saw POST /checkin?id=1 20")
    read = capture.read()
    (flow,) = read.flows
    assert (flow.host, flow.request.port, flow.request.path, flow.tls, flow.status) == (
        "upstream.lab.test", 443, "/checkin?id=1", True, 200)
    assert flow.request.content == b"IMEI=356938035643809"
    assert flow.client.startswith("127.0.0.1:")
    assert flow.timestamp is not None
    assert read.capture.error == ""
    assert read.header["label"] == "FAKE0001"
    # HAR is a convenience export, readable by the analysis too
    (har_flow,) = read_har(capture.har_path).flows
    assert (har_flow.host, har_flow.request.content) == ("upstream.lab.test", b"IMEI=356938035643809")


def test_refused_handshake_is_recorded_with_its_sni(tmp_path: Path, pki: ThrowawayPKI,
                                                    https_upstream: Upstream) -> None:
    with Capture(tmp_path / "c", _lab(pki, https_upstream)) as capture, \
            pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
        https_via_proxy(capture.address, "upstream.lab.test", "/pinned", pki.ca_file)  # a pinned app
    (flow,) = capture.read().flows
    assert (flow.undecrypted_tls, flow.host, flow.request.port) == (True, "upstream.lab.test", 443)
    assert https_upstream.connections == 0  # lazy: nothing went upstream for a client that gave up


def test_listens_only_on_the_configured_host(tmp_path: Path) -> None:
    with Capture(tmp_path / "c", CaptureConfig(listen_host="127.0.0.2")) as capture:
        host, port = capture.address
        assert host == "127.0.0.2"
        assert _host_listeners(port, "tcp", "tcp6") == ["127.0.0.2"]
        socket.create_connection(("127.0.0.2", port), timeout=2).close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_failed_bind_is_one_clear_error_and_frees_the_process(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="could not start"):
        Capture(tmp_path / "bad", CaptureConfig(listen_host="192.0.2.1")).start()  # not an address of this host
    with Capture(tmp_path / "good") as capture:
        assert capture.running


def test_captures_at_once_share_the_process_proxy_and_each_sees_only_its_traffic(
        tmp_path: Path, pki: ThrowawayPKI, https_upstream: Upstream) -> None:
    first = Capture(tmp_path / "one", _lab(pki, https_upstream)).start()
    second = Capture(tmp_path / "two", _lab(pki, https_upstream)).start()
    try:
        assert first.address != second.address
        assert first.ca is not None
        assert second.ca is not None
        assert first.ca.cert_pem == second.ca.cert_pem  # one run, one CA
        https_via_proxy(first.address, "upstream.lab.test", "/from-one", first.ca.cert_file)
        https_via_proxy(second.address, "upstream.lab.test", "/from-two", second.ca.cert_file)
        with pytest.raises(CaptureError, match="other proxy options"):
            Capture(tmp_path / "three", CaptureConfig()).start()  # different upstream trust: refused
        first.stop()
        assert second.running  # the shared proxy outlives the first capture
        https_via_proxy(second.address, "upstream.lab.test", "/after", second.ca.cert_file)
    finally:
        first.stop()
        second.stop()
    assert [f.request.path for f in first.read().flows] == ["/from-one"]
    assert [f.request.path for f in second.read().flows] == ["/from-two", "/after"]
    assert not second.ca.key_file.exists()  # the key goes with the last capture
    with pytest.raises(CaptureError, match="runs once"):
        first.start()


def test_key_file_is_0600_and_kept_out_of_the_evidence(tmp_path: Path) -> None:
    with Capture(tmp_path / "c") as capture:
        assert capture.ca is not None
        assert stat.S_IMODE(capture.ca.key_file.stat().st_mode) == 0o600
        key = capture.ca.key_file.read_bytes()
    assert b"PRIVATE KEY" not in capture.evidence_path.read_bytes()
    assert key not in capture.evidence_path.read_bytes()


def test_start_stop_cycles_leak_no_fds_or_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(ca_module, "KEY_SIZE", 1024)  # the lifecycle is under test, not RSA key generation

    def census() -> tuple[int, int]:
        return len(os.listdir("/proc/self/fd")), threading.active_count()

    with Capture(tmp_path / "warm-up"):
        pass  # first import and loop setup allocate once
    before = census()
    for cycle in range(20):
        with Capture(tmp_path / f"c{cycle}") as capture:
            # a handset connection still open when the capture stops must not outlive it either
            idle = socket.create_connection(capture.address, timeout=2)
        assert idle.recv(1) == b""  # the proxy closed its end
        idle.close()
    assert census() == before
    # open connections were closed, not cancelled (3.11's asyncio logs an error for each cancelled one)
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_wireguard_mode_starts_with_its_own_keys_and_a_real_endpoint(tmp_path: Path) -> None:
    with Capture(tmp_path / "wg", CaptureConfig(mode="wireguard")) as capture:
        port = capture.address[1]
        assert port != 0
        assert _host_listeners(port, "udp") == ["127.0.0.1"]
        conf = capture.confdir / "wireguard.conf"
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600
        keys = read_keys(conf)
        lines = dict(line.split(" = ", 1) for line in capture.wireguard_client_config().splitlines() if " = " in line)
    assert lines["Endpoint"] == f"127.0.0.1:{port}"
    assert lines["PrivateKey"] == keys.client_key
    assert lines["PublicKey"] == mitmproxy_rs.wireguard.pubkey(keys.server_key)
    assert (lines["Address"], lines["DNS"], lines["AllowedIPs"]) == ("10.0.0.1/32", "10.0.0.53", "0.0.0.0/0")
    listening = next(r for r in capture.read().records if r.get("kind") == "listening")
    assert listening["tunnel_ip"] == "10.0.0.1"
    assert json.loads(conf.read_text()).keys() == {"server_key", "client_key"}
