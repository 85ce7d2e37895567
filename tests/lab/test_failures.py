"""A handset that dies mid-test gives an error naming it and the step, in bounded time."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devicelab.adb import AdbClient, AdbDevice, AdbServer
from devicelab.errors import AdbError, FastbootError, HandsetError, ToolMissingError
from devicelab.handset.fastboot import Fastboot
from devicelab.lab.lab import Lab
from devicelab.virtual.lab import VirtualLab


def device_of(lab: VirtualLab) -> AdbDevice:
    info = lab.info()[0]
    return AdbDevice(AdbClient(AdbServer(port=lab.adb_server_port)), info.adb_serial, label=info.serialno)


def test_adb_dropping_and_never_returning_is_named_and_bounded(small_lab: VirtualLab) -> None:
    device = device_of(small_lab)
    device.wait_for_device(10)
    handset = small_lab.handsets[0]
    small_lab.call(handset.power_off())  # the cable is pulled and stays out
    # the adb server notices the drop on its own time (slower under load): until then it still says "device"
    device.wait_for_disconnect(10)
    start = time.monotonic()
    with pytest.raises(AdbError) as info:
        device.wait_for_device(2.0, step="wait for boot")
    assert time.monotonic() - start < 6
    assert info.value.serial == handset.hardware.serialno
    assert info.value.step == "wait for boot"
    with pytest.raises(AdbError, match=handset.hardware.serialno):
        device.shell("echo hi", timeout=2)


def test_absent_fastboot_target_fails_fast_with_the_step() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = Fastboot(f"tcp:127.0.0.1:{port}", label="B2NGONE")
    start = time.monotonic()
    with pytest.raises(FastbootError) as info:
        target.getvar("product", timeout=5)
    assert time.monotonic() - start < 8
    assert info.value.serial == "B2NGONE"
    assert info.value.step == "getvar product"
    with pytest.raises(HandsetError, match="not in fastboot mode"):
        target.wait_for_target(1.0)


def test_lease_is_released_when_the_test_body_fails(small_lab: VirtualLab, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICELAB_STATE_DIR", str(tmp_path))
    info = small_lab.info()[0]
    inventory = tmp_path / "one.yaml"
    inventory.write_text(
        f"name: one\nadb_servers:\n  local: {{port: {small_lab.adb_server_port}}}\nhandsets:\n"
        f"  - {{id: h0, serialno: {info.serialno}, adb: {{serial: {info.adb_serial}}}, "
        f"fastboot: '{info.fastboot}', model: B2N}}\n"
    )
    with Lab.from_file(inventory) as lab:
        with pytest.raises(RuntimeError, match="boom"), lab.lease({}, timeout=1):
            raise RuntimeError("boom")
        with lab.lease({}, timeout=1) as again:
            assert again.serial == info.serialno


def test_missing_tools_are_one_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="`adb` was not found on PATH; install it"):
        Lab.from_file().start()


def test_cli_reports_a_missing_manifest_without_a_traceback(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "adb").symlink_to("/usr/bin/adb")
    proc = subprocess.run(
        [sys.executable, "-c", "from devicelab.lab.lab import Lab; from devicelab.cli.main import main; import sys;"
         "sys.argv=['devicelab','virtual','build-image','/nonexistent.yaml','-o','/tmp/x.zip']; main()"],
        capture_output=True, text=True, timeout=60, env={"PATH": str(bin_dir)},
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "/nonexistent.yaml: file not found" in proc.stderr


def test_unknown_build_is_a_usage_error_naming_the_known_ones(tmp_path: Path) -> None:
    suite = tmp_path / "test_x.py"
    suite.write_text("def test_x(build_under_test):\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite),
                           "--build", "nokia9-nope"], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "unknown build 'nokia9-nope'; known builds:" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def _reboot_closed_before_okay(monkeypatch: pytest.MonkeyPatch, *, reboots: bool) -> None:
    """adbd answers `reboot:` with CLSE (the server says "closed"), going down at once or not at all."""
    import devicelab.virtual.adbd.daemon as daemon_module

    real = daemon_module.open_service

    async def opener(handset, daemon, name):  # type: ignore[no-untyped-def]
        if name != "reboot:":
            return await real(handset, daemon, name)
        if reboots:
            handset.reboot("system")  # the link drops before the OKAY is relayed
        return None

    monkeypatch.setattr(daemon_module, "open_service", opener)


def test_a_reboot_whose_link_drops_before_its_okay_is_a_reboot(small_lab: VirtualLab,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    device = device_of(small_lab)
    device.wait_for_device(10)
    _reboot_closed_before_okay(monkeypatch, reboots=True)
    device.reboot("system", timeout=10)  # "closed", then gone: the reboot is happening
    small_lab.wait_booted(20)


def test_closed_without_the_handset_going_is_an_error_naming_it(small_lab: VirtualLab,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    device = device_of(small_lab)
    device.wait_for_device(10)
    _reboot_closed_before_okay(monkeypatch, reboots=False)
    with pytest.raises(AdbError, match="closed") as info:
        device.reboot("system", timeout=2)
    assert info.value.step == "reboot system"
