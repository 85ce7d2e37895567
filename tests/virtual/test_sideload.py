"""The real `adb sideload` against the virtual recovery: the block protocol, the `sideload` state,
and recovery's refusals (another product, a tampered or wrongly signed package, a downgrade)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.model.builds import Build, load_build
from devicelab.virtual import ota
from devicelab.virtual.handset import BootState
from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import listed, run_adb, wait_until

RUNNING = "nokia7plus-00WW_3_22C-userdebug"
NEWER = "nokia7plus-00WW_3_22C_SP05-userdebug"


@pytest.fixture
def ud_lab(adb_port: int) -> Iterator[VirtualLab]:
    with VirtualLab(1, build=RUNNING, adb_server_port=adb_port, boot_seconds=0.2, seed="sideload") as lab:
        lab.wait_booted(10)
        serial = lab.info()[0].adb_serial
        wait_until(lambda: listed(adb_port).get(serial) == "device", 5, "the handset in adb devices")
        yield lab


def serial_of(lab: VirtualLab) -> str:
    return lab.info()[0].adb_serial


def recovery_log(lab: VirtualLab) -> str:
    return lab.call(lambda: "\n".join(lab.handsets[0].recovery.lines))


def to_sideload(lab: VirtualLab, port: int) -> None:
    serial = serial_of(lab)
    if listed(port).get(serial) == "device":
        assert "restarting adbd as root" in run_adb(port, "-s", serial, "root").stdout
        wait_until(lambda: listed(port).get(serial) == "device", 5, "adbd back as root")
    reboot = run_adb(port, "-s", serial, "reboot", "sideload-auto-reboot")
    assert reboot.returncode == 0
    assert not reboot.stdout.strip(), reboot.stdout
    assert run_adb(port, "-s", serial, "wait-for-sideload", timeout=10).returncode == 0
    assert listed(port)[serial] == "sideload"


def package(tmp_path: Path, build: Build, *, key: str | None = None, name: str = "ota.zip") -> Path:
    return ota.write_ota_package(build, tmp_path / name, key=key)


def test_sideload_installs_the_signed_ota_into_the_other_slot(ud_lab: VirtualLab, adb_port: int,
                                                               tmp_path: Path) -> None:
    serial = serial_of(ud_lab)
    to_sideload(ud_lab, adb_port)
    shell = run_adb(adb_port, "-s", serial, "shell", "echo hi")  # minadbd has no shell
    assert shell.returncode != 0
    assert "hi" not in shell.stdout
    sent = run_adb(adb_port, "-s", serial, "sideload", str(package(tmp_path, load_build(NEWER))), timeout=30)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "Total xfer:" in sent.stdout
    wait_until(lambda: listed(adb_port).get(serial) == "device", 10, "the new build booted")
    fingerprint = run_adb(adb_port, "-s", serial, "shell", "getprop ro.build.fingerprint").stdout.strip()
    assert fingerprint == load_build(NEWER).fingerprint
    assert run_adb(adb_port, "-s", serial, "shell", "getprop ro.boot.slot_suffix").stdout.strip() == "_b"
    assert "Install completed with status 0." in recovery_log(ud_lab)


def test_recovery_refuses_another_product_a_tampered_package_a_wrong_key_and_a_downgrade(
        ud_lab: VirtualLab, adb_port: int, tmp_path: Path) -> None:
    serial = serial_of(ud_lab)
    newer = load_build(NEWER)
    other = newer.model_copy(update={"fingerprint": newer.fingerprint.replace("B2N_sprout", "NB1")})
    good = package(tmp_path, newer).read_bytes()
    tampered = tmp_path / "tampered.zip"
    flip = good.index(b"00WW_3_22C_SP05")
    tampered.write_bytes(good[:flip] + b"00WW_3_22C_SP06" + good[flip + 15 :])
    unsigned = tmp_path / "unsigned.zip"
    unsigned.write_bytes(ota.unsigned_package(newer))
    older = ud_lab.call(lambda: ud_lab.handsets[0].system.build)  # type: ignore[union-attr]
    cases = [
        (package(tmp_path, other, name="other.zip"), "E:Package is for product NB1 but expected B2N_sprout"),
        (tampered, "E:Signature verification failed"),
        (unsigned, "E:footer is wrong"),
        (package(tmp_path, newer, key="release-keys", name="release.zip"), "E:failed to verify against EC key 0"),
        (package(tmp_path, older.model_copy(update={"security_patch": "2018-12-01"}), name="old.zip"),
         "E:Update package is older than the current build"),
    ]
    for path, message in cases:
        to_sideload(ud_lab, adb_port)
        sent = run_adb(adb_port, "-s", serial, "sideload", str(path), timeout=30)
        assert sent.returncode == 1, (path.name, sent.stdout, sent.stderr)
        log = recovery_log(ud_lab)
        assert message in log, log
        assert "Installation aborted." in log
        # a debuggable build's recovery shows the error and waits in its menu, where adbd runs
        wait_until(lambda: listed(adb_port).get(serial) == "recovery", 5, "recovery's menu")
    assert run_adb(adb_port, "-s", serial, "reboot").returncode == 0
    wait_until(lambda: listed(adb_port).get(serial) == "device", 10, "Android again")
    fingerprint = run_adb(adb_port, "-s", serial, "shell", "getprop ro.build.fingerprint").stdout.strip()
    assert fingerprint == load_build(RUNNING).fingerprint  # nothing was written
    assert ud_lab.call(lambda: ud_lab.handsets[0].storage.current_slot) == "a"


def test_reboot_sideload_needs_root_and_a_user_recovery_has_no_adb(lab: VirtualLab, adb_port: int,
                                                                    serial: str) -> None:
    refused = run_adb(adb_port, "-s", serial, "reboot", "sideload")
    assert refused.returncode == 0  # adb prints adbd's refusal and exits 0: callers must read it
    assert "'adb reboot sideload' requires root. Try 'adb root' first." in refused.stdout
    assert lab.call(lambda: lab.handsets[0].state) == BootState.BOOTED
    assert run_adb(adb_port, "-s", serial, "reboot", "recovery").returncode == 0
    wait_until(lambda: lab.call(lambda: lab.handsets[0].state) == BootState.RECOVERY, 5, "recovery")
    wait_until(lambda: serial not in listed(adb_port), 5, "the handset to leave adb devices")


def test_the_factory_reset_broadcast_needs_root_then_wipes_through_recovery(ud_lab: VirtualLab,
                                                                            adb_port: int) -> None:
    serial = serial_of(ud_lab)
    command = ["shell", "am", "broadcast", "-a", "android.intent.action.FACTORY_RESET", "-p", "android"]
    denied = run_adb(adb_port, "-s", serial, *command)
    assert denied.returncode == 255
    assert "Permission Denial: not allowed to send broadcast android.intent.action.FACTORY_RESET" in denied.stderr
    wiped = ud_lab.call(lambda: ud_lab.handsets[0].storage.userdata_generation)
    ud_lab.call(lambda: setattr(ud_lab.handsets[0].userdata, "boot_count", 5))
    assert "restarting adbd as root" in run_adb(adb_port, "-s", serial, "root").stdout
    wait_until(lambda: listed(adb_port).get(serial) == "device", 5, "adbd back as root")
    assert run_adb(adb_port, "-s", serial, *command).returncode == 0
    wait_until(lambda: ud_lab.call(lambda: ud_lab.handsets[0].storage.userdata_generation) > wiped, 10, "the wipe")
    wait_until(lambda: listed(adb_port).get(serial) == "device", 10, "Android after the wipe")
    assert ud_lab.call(lambda: ud_lab.handsets[0].userdata.boot_count) == 1  # userdata started over
    assert "Data wipe complete." in ud_lab.call(lambda: ud_lab.handsets[0].recovery.last_log
                                                 + "\n".join(ud_lab.handsets[0].recovery.lines))
