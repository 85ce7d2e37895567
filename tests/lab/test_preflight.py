"""The doctor's checks against virtual handsets set up wrong the ways real labs are: a retail
phone with adb off, one that has not accepted this host's key, a locked bootloader, a physical
handset with only a generated image; and the CLI's exit codes on the embedded lab."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.adb.client import AdbClient
from devicelab.lab.lab import Lab
from devicelab.lab.preflight import Check, build_checks, handset_checks
from devicelab.model.builds import load_build
from devicelab.virtual.control import handle_request
from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import listed, wait_until

RETAIL = "nokia7plus-00WW_3_22C-retail"


def lock_bootloader(virtual: VirtualLab, port: int, *, unlock_allowed: bool = True) -> None:
    """Lock the first handset's bootloader (with OEM unlocking off too, unless `unlock_allowed`) and
    wait until it is back on adb after the reboot."""
    handset = virtual.handsets[0]

    def lock() -> None:
        handset.storage.unlocked = False
        handset.storage.unlock_allowed = unlock_allowed and handset.storage.unlock_allowed
        handset.reboot("system")

    virtual.call(lock)
    virtual.wait_booted(10)
    serial = virtual.info()[0].adb_serial
    wait_until(lambda: listed(port).get(serial) == "device", 10, "the locked handset back")


def lab_file(path: Path, virtual: VirtualLab, *, tags: str = "{kind: virtual}",
             proxy: str = "{adb_reverse: true}") -> Path:
    info = virtual.info()[0]
    path.write_text(f"name: doctor\nadb_servers:\n  local: {{port: {virtual.adb_server_port}}}\n"
                    f"proxy: {proxy}\nhandsets:\n"
                    f"  - {{id: rack-1, serialno: {info.serialno}, adb: {{serial: {info.adb_serial}}}, "
                    f"fastboot: '{info.fastboot}', model: B2N, tags: {tags}}}\n")
    return path


def doctor(path: Path, build: str | None = None) -> dict[str, Check]:
    """The checks of the one handset, by name."""
    with Lab.from_file(path) as lab:
        entry = lab.entries[0]
        checks = handset_checks(lab.handset(entry), AdbClient(lab.servers["local"]),
                                load_build(build) if build else None, proxy=lab.inventory.proxy)
    return {c.name: c for c in checks}


@pytest.fixture
def retail_lab(private_adb_port: int) -> Iterator[VirtualLab]:
    with VirtualLab(1, build=RETAIL, adb_server_port=private_adb_port, boot_seconds=0.2, seed="doctor-retail") as lab:
        lab.wait_booted(10)
        yield lab


def control(lab: VirtualLab, op: str, **args: object) -> None:
    line = json.dumps({"op": op, "serialno": lab.handsets[0].hardware.serialno, **args}).encode()
    reply = lab.call(handle_request(lab, line))
    assert reply["ok"], reply


def test_a_retail_build_is_missing_usb_debugging() -> None:
    checks = {c.name: c for c in build_checks(load_build(RETAIL))}
    assert checks["build type"].status == "missing"
    assert "USB debugging" in checks["build type"].detail
    assert "kind: lab" in checks["build type"].fix
    assert all(c.status == "ok" for c in build_checks(load_build("nokia7plus-00WW_3_22C_SP05")))


def test_a_retail_phone_after_a_wipe_is_not_listed_and_the_fix_is_usb_debugging(retail_lab: VirtualLab,
                                                                                 tmp_path: Path) -> None:
    adb = doctor(lab_file(tmp_path / "lab.yaml", retail_lab))["adb"]
    assert adb.status == "missing"
    assert "USB debugging on" in adb.fix


def test_an_unaccepted_host_key_is_unauthorized_then_the_locked_bootloader_shows(retail_lab: VirtualLab,
                                                                                tmp_path: Path) -> None:
    control(retail_lab, "finish_setup")
    control(retail_lab, "usb_debugging", enabled=True)
    serial = retail_lab.info()[0].adb_serial
    wait_until(lambda: listed(retail_lab.adb_server_port).get(serial) == "unauthorized", 10, "unauthorized")
    path = lab_file(tmp_path / "lab.yaml", retail_lab)
    checks = doctor(path)
    assert checks["adb"].status == "missing"
    assert "Allow USB debugging" in checks["adb"].fix
    assert "build" not in checks  # nothing is read through adb it does not have

    control(retail_lab, "usb_prompt", allow=True, always=True)
    wait_until(lambda: listed(retail_lab.adb_server_port).get(serial) == "device", 10, "device")
    checks = doctor(path)
    assert checks["adb"].status == "ok"
    assert checks["bootloader"].status == "missing"
    assert "OEM unlocking" in checks["bootloader"].fix
    assert "ro.adb.secure=1" in checks["build"].detail
    assert "adb root refused" in checks["build"].detail


def test_a_physical_handset_refuses_a_generated_image(private_adb_port: int, tmp_path: Path) -> None:
    with VirtualLab(1, adb_server_port=private_adb_port, boot_seconds=0.2, seed="doctor-usb") as virtual:
        virtual.wait_booted(10)
        physical = doctor(lab_file(tmp_path / "usb.yaml", virtual, tags="{}", proxy="{}"), "nokia7plus-00WW_3_22C")
        stand_in = doctor(lab_file(tmp_path / "virtual.yaml", virtual), "nokia7plus-00WW_3_22C")
    assert physical["image"].status == "missing"
    assert "generated stand-in" in physical["image"].detail
    assert physical["proxy"].status == "missing"  # the proxy on this machine's loopback, no reverse rule
    assert "adb_reverse: true" in physical["proxy"].fix
    assert stand_in["image"].status == "ok"
    for name in ("adb", "proxy", "build", "bootloader", "flow", "identity", "network"):
        assert stand_in[name].status == "ok", stand_in[name]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devicelab", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.slow
def test_doctor_on_the_embedded_lab_is_ready_and_refuses_the_retail_build() -> None:
    ready = run_cli("doctor", "--json")
    report = json.loads(ready.stdout)
    assert ready.returncode == 0, [c for c in report["checks"] if c["status"] == "missing"]
    assert report["ready"] is True
    retail = run_cli("doctor", "--build", RETAIL)
    assert retail.returncode == 1
    assert "USB debugging" in retail.stdout + retail.stderr


@pytest.mark.slow
def test_the_gate_refuses_a_retail_build_in_seconds_with_the_fix(tmp_path: Path) -> None:
    start = time.monotonic()
    proc = run_cli("gate", "--build", RETAIL, "--out", str(tmp_path / "out"), "--no-allure-html", timeout=60)
    assert proc.returncode == 3
    assert time.monotonic() - start < 60
    assert "USB debugging" in proc.stderr
    assert "fix: gate a lab build" in proc.stderr


def _static_gate(lab_path: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("gate", "--lab", str(lab_path), "--out", str(out), "--window", "60", "--no-allure-html", *args,
                   timeout=180)


@pytest.mark.slow
def test_the_gate_refuses_a_locked_bootloader_before_flashing(private_adb_port: int, tmp_path: Path) -> None:
    with VirtualLab(1, adb_server_port=private_adb_port, boot_seconds=0.2, seed="gate-locked") as virtual:
        virtual.wait_booted(10)
        lock_bootloader(virtual, private_adb_port)
        start = time.monotonic()
        proc = _static_gate(lab_file(tmp_path / "lab.yaml", virtual), tmp_path / "out",
                            "--build", "nokia7plus-00WW_3_22C_SP05")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert time.monotonic() - start < 60
        assert "bootloader: locked" in proc.stdout + proc.stderr
        assert "OEM unlocking" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_no_flash_checks_the_fingerprint_and_flashes_nothing(private_adb_port: int, tmp_path: Path) -> None:
    with VirtualLab(1, adb_server_port=private_adb_port, boot_seconds=0.2, seed="gate-no-flash") as virtual:
        virtual.wait_booted(10)
        path = lab_file(tmp_path / "lab.yaml", virtual)
        other = _static_gate(path, tmp_path / "other", "--no-flash", "--build", "nokia7plus-00WW_3_22C")
        assert other.returncode == 3, other.stdout + other.stderr
        assert "check build (--no-flash)" in other.stdout + other.stderr
        same = _static_gate(path, tmp_path / "same", "--no-flash", "--build", "nokia7plus-00WW_3_22C_SP05")
        assert same.returncode in (0, 2), same.stdout + same.stderr  # judged: no flash was needed
        timeline = json.loads((tmp_path / "same" / "verdict.json").read_text())["timeline"]
        assert not any(step["name"].startswith("flash") for step in timeline)


def test_a_handset_in_its_bootloader_is_read_through_fastboot(private_adb_port: int, tmp_path: Path) -> None:
    with VirtualLab(1, adb_server_port=private_adb_port, boot_seconds=0.2, seed="doctor-fastboot") as virtual:
        virtual.wait_booted(10)
        handset = virtual.handsets[0]

        def to_bootloader() -> None:
            handset.storage.unlocked = False
            handset.reboot("bootloader")

        virtual.call(to_bootloader)
        wait_until(lambda: virtual.call(lambda: str(handset.state)) == "bootloader", 10, "the bootloader")
        checks = doctor(lab_file(tmp_path / "lab.yaml", virtual), "nokia7plus-00CN_3_340")
    assert checks["fastboot"].status == "warn"
    assert checks["bootloader"].status == "missing"
    assert "slot a of 2" in checks["bootloader"].detail
    assert "product" not in checks  # B2N, as the build wants


def test_doctor_says_which_interface_a_gateway_handset_is_on() -> None:
    from devicelab.lab.preflight import proxy_check
    from devicelab.model.inventory import GatewayInterface, HandsetEntry, ProxySpec

    entry = HandsetEntry.model_validate({"id": "a", "serialno": "B2N1", "adb": {"serial": "B2N1"},
                                         "fastboot": "B2N1", "model": "B2N"})
    gateway = ProxySpec(mode="gateway")
    check = proxy_check("a", entry, gateway)
    assert (check.name, check.status) == ("gateway", "missing")
    assert "gateway: {interface" in check.fix
    on_lo = entry.model_copy(update={"gateway": GatewayInterface(interface="lo", kind="vlan", address="10.77.0.23")})
    assert proxy_check("a", on_lo, gateway).status == "ok"
    gone = entry.model_copy(update={"gateway": GatewayInterface(interface="wlan-gone", kind="hostapd",
                                                                address="10.77.0.23")})
    check = proxy_check("a", gone, gateway)
    assert check.status == "missing"
    assert "hostapd interface wlan-gone is not on this host" in check.detail
