"""HandsetCapture end to end on the fake handset: setup, canary, attribution, coverage, teardown."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from devicelab.capture import CaptureConfig, HostRule
from devicelab.capture.session import HandsetCapture
from devicelab.errors import CaptureError
from tests.capture.fake_handset import FakeHandset, Paths, Row


def _session(handset: FakeHandset, tmp_path: Path, **options: object) -> HandsetCapture:
    config = CaptureConfig(sinkhole=HostRule(("zzhc.vnet.cn",)), **options)  # type: ignore[arg-type]
    return HandsetCapture(handset, tmp_path / "capture", config, canary_timeout=5, sample_interval=0.05)


def _leak_from_app(handset: FakeHandset, proxy: tuple[str, int], uid: int) -> int:
    """An app on the handset POSTs to zzhc.vnet.cn through the proxy; its socket shows in /proc/net."""
    conn = http.client.HTTPConnection(*proxy, timeout=5)
    conn.connect()
    port: int = conn.sock.getsockname()[1]
    handset.extra_sockets.append(Row("tcp6", ("127.0.0.1", port), proxy, "ESTABLISHED", uid))
    conn.request("POST", "http://zzhc.vnet.cn/", body=b"IMEI1=356938035643809")
    assert conn.getresponse().status == 200
    conn.close()
    return port


def test_a_capture_from_start_to_teardown(fake_handset: FakeHandset, fake_paths: Paths, tmp_path: Path) -> None:
    # open before the capture started: part of the baseline, not a bypass
    fake_handset.extra_sockets.append(Row("tcp", ("10.0.2.15", 50999), ("198.51.100.9", 443), "ESTABLISHED", 10012))
    with _session(fake_handset, tmp_path) as capture:
        # opened during the window, around the proxy
        fake_handset.extra_sockets.append(Row("tcp", ("10.0.2.15", 51000), ("203.0.113.7", 443), "ESTABLISHED",
                                              10099))
        assert capture.canary is not None
        assert capture.canary.ok, capture.canary
        assert capture.ca_install is not None
        assert capture.ca_install.installed
        proxy = capture.capture.dial_address
        assert fake_handset.setting("http_proxy") == f"{proxy[0]}:{proxy[1]}"
        _leak_from_app(fake_handset, proxy, 10099)
        live = capture.flows()
        assert [f.host for f in live] == ["zzhc.vnet.cn"]
    # torn down: no proxy setting, no CA, proxy stopped
    assert fake_handset.setting("http_proxy") is None
    assert {p.name for p in fake_paths.system.iterdir()} == {"5ed36f99.0"}
    assert not capture.capture.running
    (flow,) = capture.flows()
    assert (flow.host, flow.app, flow.request.content) == (
        "zzhc.vnet.cn", "com.qualcomm.qti.autoregistration", b"IMEI1=356938035643809")
    gaps = capture.gaps()
    assert [(g.kind, g.host) for g in gaps] == [("unproxied_connection", "203.0.113.7")]
    assert capture.coverage == ("com.qualcomm.qti.autoregistration (uid 10099) tcp to 203.0.113.7:443 [ESTABLISHED]",)
    read = capture.read()
    assert read.canary is not None
    assert read.canary["ok"] is True
    assert read.capture.error == ""
    # the canary's own request reached the proxy decrypted, from the browser's connection
    (canary,) = capture.capture.read(include_canary=True).flows[:1]
    assert (canary.host, canary.tls, canary.app) == ("canary.devicelab.test", True, "com.android.chrome")


def test_user_build_leaves_tls_opaque_and_says_so(fake_handset: FakeHandset, tmp_path: Path) -> None:
    # no lab CA on a user build: the canary only proves the path through the proxy (plain HTTP),
    # and each TLS connection is later judged by its host (unapproved + unopened = inconclusive)
    fake_handset.build_type = "user"
    with _session(fake_handset, tmp_path) as capture:
        assert capture.canary is not None
        assert capture.canary.url.startswith("http://")
    assert not any(g.kind == "tls_undecrypted" and not g.host for g in capture.gaps())
    assert any("CA not installable" in note for note in capture.read().notes)
    assert fake_handset.setting("http_proxy") is None


def test_teardown_runs_when_the_test_fails(fake_handset: FakeHandset, fake_paths: Paths, tmp_path: Path) -> None:
    session = _session(fake_handset, tmp_path)
    with pytest.raises(RuntimeError, match="the test failed"), session:
        raise RuntimeError("the test failed")
    assert fake_handset.setting("http_proxy") is None
    assert {p.name for p in fake_paths.system.iterdir()} == {"5ed36f99.0"}
    assert not session.capture.running


def test_a_failed_start_cleans_up_what_it_did(fake_handset: FakeHandset, fake_paths: Paths, tmp_path: Path) -> None:
    fake_handset.fail_commands = ("settings get",)  # the proxy setting cannot be checked
    session = _session(fake_handset, tmp_path)
    with pytest.raises(CaptureError, match="settings get"):
        session.start()
    assert {p.name for p in fake_paths.system.iterdir()} == {"5ed36f99.0"}
    assert not session.capture.running
    assert "the proxy did not start" not in session.evidence_path.read_text()


def test_a_ca_on_an_overlay_is_put_back_after_every_reboot(fake_handset: FakeHandset, fake_paths: Paths,
                                                            tmp_path: Path) -> None:
    (fake_paths.system / ".readonly").touch()  # dm-verity: only a tmpfs overlay takes the CA
    with _session(fake_handset, tmp_path) as capture:
        assert capture.ca_install is not None
        assert capture.ca_install.overlays == (str(fake_paths.system),)
        ours = {p.name for p in fake_paths.system.iterdir()} - {"5ed36f99.0", ".readonly"}
        assert len(ours) == 1
        # a reboot: the tmpfs is gone and the store shows the partition again
        fake_handset.shell(f"umount {fake_paths.system}")
        assert not ours & {p.name for p in fake_paths.system.iterdir()}
        for hook in list(fake_handset.after_boot):
            hook()
        assert ours <= {p.name for p in fake_paths.system.iterdir()}
        assert any(note.startswith("CA reinstalled after a reboot: ok") for note in capture.read().notes)
    assert fake_handset.after_boot == []
    assert {p.name for p in fake_paths.system.iterdir()} == {"5ed36f99.0", ".readonly"}


def test_a_lab_build_with_the_lab_ca_baked_in_is_read_with_it(fake_handset: FakeHandset, fake_paths: Paths,
                                                              tmp_path: Path) -> None:
    from cryptography import x509

    from devicelab.capture.ca import lab_ca_cert, subject_hash_old

    cert = lab_ca_cert()
    baked = fake_paths.system / f"{subject_hash_old(x509.load_pem_x509_certificate(cert))}.0"
    baked.write_bytes(cert)
    fake_handset.build_type = "user"  # no root: the baked CA is the only way to read TLS
    with _session(fake_handset, tmp_path) as capture:
        assert capture.ca_install is not None
        assert "baked into the system store" in capture.ca_install.note
        assert capture.canary is not None
        assert capture.canary.ok, capture.canary
        assert capture.canary.url.startswith("https://")
    assert baked.exists()  # the build's own CA is never removed


def test_a_foreign_ca_under_the_lab_cas_name_is_not_trusted(fake_handset: FakeHandset, fake_paths: Paths,
                                                            tmp_path: Path) -> None:
    from cryptography import x509

    from devicelab.capture.ca import lab_ca_cert, subject_hash_old

    name = f"{subject_hash_old(x509.load_pem_x509_certificate(lab_ca_cert()))}.0"
    (fake_paths.system / name).write_bytes((fake_paths.system / "5ed36f99.0").read_bytes())
    fake_handset.build_type = "user"
    with _session(fake_handset, tmp_path) as capture:
        assert capture.ca_install is not None
        assert not capture.ca_install.installed
    assert any("is not this lab's CA" in note for note in capture.read().notes)


def test_a_phone_on_usb_reaches_the_proxy_through_adb_reverse(fake_handset: FakeHandset, tmp_path: Path) -> None:
    with _session(fake_handset, tmp_path, adb_reverse=True) as capture:
        port = capture.capture.dial_address[1]
        assert f"adb reverse tcp:{port} tcp:{port}" in fake_handset.calls
        assert fake_handset.setting("http_proxy") == f"127.0.0.1:{port}"
    assert f"adb reverse --remove tcp:{port}" in fake_handset.calls


def test_adb_reverse_needs_a_proxy_on_loopback() -> None:
    with pytest.raises(Exception, match="adb_reverse"):
        CaptureConfig(listen_host="0.0.0.0", advertise_host="192.0.2.10", adb_reverse=True).check()
