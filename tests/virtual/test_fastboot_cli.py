"""The real Debian `fastboot` (29.0.6) against a virtual handset in its bootloader: variables,
flashing raw and sparse images, lock state, wiping, rebooting."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.virtual.fastboot.sparse import BLOCK, to_sparse
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.lab import VirtualLab
from tests.virtual.fastboot_helpers import (
    FASTBOOT,
    TIMEOUT,
    StateLog,
    fastboot,
    getvar,
    in_bootloader,
    needs_fastboot,
    running_lab,
    target,
)

pytestmark = needs_fastboot
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def fb_lab() -> Iterator[VirtualLab]:
    with running_lab() as lab:
        yield lab


@pytest.fixture
def handset(fb_lab: VirtualLab) -> VirtualHandset:
    return in_bootloader(fb_lab)


def _read(lab: VirtualLab, h: VirtualHandset, partition: str) -> bytes:
    return lab.call(lambda: h.storage.read(partition))


def _write_image(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# -- variables ---------------------------------------------------------------------------
def test_getvar_reports_hardware_build_and_storage(fb_lab: VirtualLab, handset: VirtualHandset) -> None:
    boot = fb_lab.build.bootloader
    expected = {
        "product": "B2N",
        "serialno": handset.hardware.serialno,
        "version-bootloader": boot.version_bootloader,
        "version-baseband": boot.version_baseband,
        "max-download-size": "0x10000000",
        "slot-count": "2",
        "current-slot": "a",
        "has-slot:system": "yes",
        "has-slot:userdata": "no",
        "partition-type:userdata": "raw",
        "partition-type:metadata": "raw",
        "partition-size:system": "0xc0000000",
        "is-logical:system_a": "no",
        "is-userspace": "no",
        "unlocked": "yes",
        "secure": "yes",
        "slot-successful:a": "yes",
        "slot-retry-count:b": "7",
    }
    assert {name: getvar(handset, name) for name in expected} == expected


def test_getvar_all_lists_variables_as_bootloader_lines(handset: VirtualHandset) -> None:
    proc = fastboot(handset, "getvar", "all")
    assert proc.returncode == 0
    lines = [line.removeprefix("(bootloader) ") for line in proc.stderr.splitlines() if line.startswith("(bootloader)")]
    assert "product:B2N" in lines
    assert f"serialno:{handset.hardware.serialno}" in lines
    assert "partition-type:userdata:raw" in lines
    assert "current-slot:a" in lines
    assert len(lines) > 50
    assert "Finished" in proc.stderr


def test_unknown_variable_fails_as_abl_does(handset: VirtualHandset) -> None:
    proc = fastboot(handset, "getvar", "frobnication")
    assert "FAILED (remote: 'GetVar Variable Not found')" in proc.stderr


def test_product_is_the_board_even_when_system_is_erased(fb_lab: VirtualLab, handset: VirtualHandset) -> None:
    assert fastboot(handset, "erase", "system").returncode == 0
    assert _read(fb_lab, handset, "system_a") == b""
    assert getvar(handset, "product") == "B2N"
    assert getvar(handset, "version-bootloader") == fb_lab.build.bootloader.version_bootloader


# -- flashing ----------------------------------------------------------------------------
def test_flash_raw_image_to_current_and_named_slot(fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path) -> None:
    first, second = os.urandom(2 * BLOCK), os.urandom(3 * BLOCK)
    proc = fastboot(handset, "flash", "boot", _write_image(tmp_path, "a.img", first))
    assert proc.returncode == 0, proc.stderr
    assert "Writing 'boot_a'" in proc.stderr
    assert fastboot(handset, "flash", "boot_b", _write_image(tmp_path, "b.img", second)).returncode == 0
    assert _read(fb_lab, handset, "boot_a") == first
    assert _read(fb_lab, handset, "boot_b") == second


def test_flash_sparse_image_is_expanded(fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path) -> None:
    data = os.urandom(2 * BLOCK) + b"\0" * (6 * BLOCK) + os.urandom(BLOCK)
    proc = fastboot(handset, "flash", "vendor", _write_image(tmp_path, "v.img", to_sparse(data)))
    assert proc.returncode == 0, proc.stderr
    assert _read(fb_lab, handset, "vendor_a") == data


def test_image_over_max_download_size_is_resparsed_and_assembles(
    fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path
) -> None:
    fb_lab.call(lambda: setattr(target(handset), "max_download_size", 1 * MiB))
    data = os.urandom(MiB) + b"\0" * MiB + os.urandom(MiB + 5 * BLOCK)
    proc = fastboot(handset, "flash", "system", _write_image(tmp_path, "s.img", data))
    assert proc.returncode == 0, proc.stderr
    parts = re.search(r"Sending sparse 'system_a' 1/(\d+)", proc.stderr)
    assert parts is not None
    assert int(parts.group(1)) >= 2
    assert _read(fb_lab, handset, "system_a") == data


def test_truncated_sparse_image_is_rejected_and_nothing_flashed(
    fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path
) -> None:
    before = _read(fb_lab, handset, "vendor_a")
    image = to_sparse(os.urandom(4 * BLOCK))
    proc = fastboot(handset, "flash", "vendor", _write_image(tmp_path, "cut.img", image[: len(image) // 2]))
    assert proc.returncode != 0
    assert "FAILED (remote: 'Error flashing partition : Invalid Parameter')" in proc.stderr
    assert _read(fb_lab, handset, "vendor_a") == before


def test_download_over_max_download_size_is_refused(
    fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path
) -> None:
    before = _read(fb_lab, handset, "system_a")
    fb_lab.call(lambda: setattr(target(handset), "max_download_size", 1 * MiB))
    # -S makes fastboot split at 3 MiB whatever the target said: each part is too big for it
    proc = fastboot(handset, "-S", "3M", "flash", "system", _write_image(tmp_path, "big.img", os.urandom(5 * MiB)))
    assert proc.returncode != 0
    assert _read(fb_lab, handset, "system_a") == before
    assert "FAILED (remote: 'Requested download size is more than max allowed')" in proc.stderr


def test_flash_unknown_partition_fails(handset: VirtualHandset, tmp_path: Path) -> None:
    proc = fastboot(handset, "flash", "nosuch", _write_image(tmp_path, "x.img", os.urandom(BLOCK)))
    assert proc.returncode != 0
    assert "FAILED (remote: '(nosuch_a) No such partition')" in proc.stderr


def test_unknown_command_fails(handset: VirtualHandset) -> None:
    proc = fastboot(handset, "oem", "frobnicate")
    assert proc.returncode != 0
    assert "FAILED (remote: 'unknown command')" in proc.stderr


# -- lock state --------------------------------------------------------------------------
def test_locked_bootloader_refuses_to_flash_and_erase(
    fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path
) -> None:
    before = _read(fb_lab, handset, "boot_a")
    assert fastboot(handset, "flashing", "lock").returncode == 0
    assert getvar(handset, "unlocked") == "no"
    flash = fastboot(handset, "flash", "boot", _write_image(tmp_path, "b.img", os.urandom(BLOCK)))
    assert flash.returncode != 0
    assert "FAILED (remote: 'Flashing is not allowed in Lock State')" in flash.stderr
    erase = fastboot(handset, "erase", "userdata")
    assert "FAILED (remote: 'Erase is not allowed in Lock State')" in erase.stderr
    assert "FAILED (remote: 'Device already : locked!')" in fastboot(handset, "flashing", "lock").stderr
    assert _read(fb_lab, handset, "boot_a") == before
    assert fastboot(handset, "flashing", "unlock").returncode == 0
    assert fastboot(handset, "flash", "boot", _write_image(tmp_path, "b.img", os.urandom(BLOCK))).returncode == 0


def test_lock_state_change_wipes_userdata(fb_lab: VirtualLab, handset: VirtualHandset) -> None:
    generation = fb_lab.call(lambda: handset.storage.userdata_generation)
    assert fastboot(handset, "flashing", "lock").returncode == 0
    assert fb_lab.call(lambda: handset.storage.userdata_generation) > generation


def test_oem_device_info_prints_abl_lines(handset: VirtualHandset) -> None:
    proc = fastboot(handset, "oem", "device-info")
    assert proc.returncode == 0
    for line in ("Device tampered: false", "Device unlocked: true", "Charger screen enabled: true"):
        assert f"(bootloader) {line}" in proc.stderr


# -- slots, wiping, leaving the bootloader -----------------------------------------------
def test_set_active_switches_slot(fb_lab: VirtualLab, handset: VirtualHandset) -> None:
    assert fastboot(handset, "set_active", "b").returncode == 0
    assert getvar(handset, "current-slot") == "b"
    assert getvar(handset, "slot-successful:b") == "no"
    assert fb_lab.call(lambda: handset.storage.current_slot) == "b"


def _boot_and_get_android_id(lab: VirtualLab, h: VirtualHandset) -> str:
    lab.call(h.wait_for_state(BootState.BOOTED, TIMEOUT), timeout=TIMEOUT + 1)
    return lab.call(lambda: h.userdata.android_id)


def test_wipe_regenerates_android_id(fb_lab: VirtualLab, handset: VirtualHandset) -> None:
    assert fastboot(handset, "reboot").returncode == 0
    first = _boot_and_get_android_id(fb_lab, handset)
    handset = in_bootloader(fb_lab)
    assert fastboot(handset, "reboot").returncode == 0
    assert _boot_and_get_android_id(fb_lab, handset) == first  # a plain reboot keeps /data

    handset = in_bootloader(fb_lab)
    wipe = fastboot(handset, "-w")
    assert wipe.returncode == 0, wipe.stderr
    assert "Erasing 'userdata'" in wipe.stderr
    assert "Erasing 'metadata'" in wipe.stderr
    assert fastboot(handset, "reboot").returncode == 0
    second = _boot_and_get_android_id(fb_lab, handset)
    assert second
    assert second != first


def test_reboot_bootloader_comes_back(
    fb_lab: VirtualLab, handset: VirtualHandset, monkeypatch: pytest.MonkeyPatch
) -> None:
    states = StateLog(fb_lab, handset, monkeypatch)
    assert fastboot(handset, "reboot", "bootloader").returncode == 0
    states.wait_for(BootState.OFF, BootState.BOOTLOADER)
    assert getvar(handset, "product") == "B2N"


def test_fastboot_started_early_waits_for_the_bootloader(fb_lab: VirtualLab, handset: VirtualHandset) -> None:
    assert fastboot(handset, "reboot").returncode == 0
    fb_lab.call(handset.wait_for_state(BootState.BOOTED, TIMEOUT), timeout=TIMEOUT + 1)
    assert FASTBOOT is not None
    early = subprocess.Popen(
        [FASTBOOT, "-s", f"tcp:127.0.0.1:{target(handset).port}", "getvar", "product"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(0.3)
        assert early.poll() is None  # nothing listens yet: fastboot keeps waiting
        fb_lab.call(lambda: handset.reboot("bootloader"))
        _, stderr = early.communicate(timeout=TIMEOUT)
    finally:
        early.kill()
        early.wait(TIMEOUT)
    assert "< waiting for tcp:" in stderr
    assert "product: B2N" in stderr


def test_reboot_recovery(fb_lab: VirtualLab, handset: VirtualHandset) -> None:
    assert fastboot(handset, "reboot", "recovery").returncode == 0
    fb_lab.call(handset.wait_for_state(BootState.RECOVERY, TIMEOUT), timeout=TIMEOUT + 1)


def test_continue_boots_the_installed_build(fb_lab: VirtualLab, handset: VirtualHandset) -> None:
    assert fastboot(handset, "continue").returncode == 0
    fb_lab.call(handset.wait_for_state(BootState.BOOTED, TIMEOUT), timeout=TIMEOUT + 1)
    assert fb_lab.call(lambda: handset.system.build.fingerprint if handset.system else "") == fb_lab.build.fingerprint


def test_erased_system_does_not_boot(
    fb_lab: VirtualLab, handset: VirtualHandset, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fastboot(handset, "erase", "system").returncode == 0
    assert "FAILED (remote: 'Failed to load image from partition: Load Error')" in fastboot(handset, "continue").stderr
    states = StateLog(fb_lab, handset, monkeypatch)
    assert fastboot(handset, "reboot").returncode == 0
    states.wait_for(BootState.OFF, BootState.BOOTLOADER)
    assert BootState.BOOTING not in states.states
    assert fb_lab.call(lambda: handset.system) is None
