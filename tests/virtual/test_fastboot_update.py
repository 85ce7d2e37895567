"""`fastboot update` of generated factory images with the real Debian fastboot: the build
switches, a wrong-product image is refused, and a corrupt system image does not boot."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.model.builds import Build, load_build
from devicelab.virtual import image
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.lab import VirtualLab
from tests.virtual.fastboot_helpers import TIMEOUT, StateLog, fastboot, in_bootloader, needs_fastboot, running_lab

pytestmark = needs_fastboot
CHINA = load_build("nokia7plus-00CN_3_340")


@pytest.fixture(scope="module")
def fb_lab() -> Iterator[VirtualLab]:
    with running_lab() as lab:
        yield lab


@pytest.fixture
def handset(fb_lab: VirtualLab) -> VirtualHandset:
    return in_bootloader(fb_lab)


def _fingerprint(lab: VirtualLab, h: VirtualHandset) -> str:
    return lab.call(lambda: h.system.build.fingerprint if h.system is not None else "")


def test_update_flashes_and_boots_the_new_build(fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path) -> None:
    assert fb_lab.build.fingerprint != CHINA.fingerprint
    zip_path = image.write_factory_zip(CHINA, tmp_path / "china.zip")
    proc = fastboot(handset, "update", str(zip_path))
    assert proc.returncode == 0, proc.stderr
    assert "Checking 'product'" in proc.stderr
    assert "Sending 'system_a'" in proc.stderr
    assert "Rebooting" in proc.stderr
    fb_lab.call(handset.wait_for_state(BootState.BOOTED, TIMEOUT), timeout=TIMEOUT + 1)
    assert _fingerprint(fb_lab, handset) == CHINA.fingerprint
    assert fb_lab.call(lambda: handset.storage.read("boot_a")) == image.small_image(CHINA, "boot")


def test_update_with_skip_reboot_stays_in_the_bootloader(
    fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path
) -> None:
    proc = fastboot(handset, "update", "--skip-reboot", str(image.write_factory_zip(CHINA, tmp_path / "c.zip")))
    assert proc.returncode == 0, proc.stderr
    assert fb_lab.call(lambda: handset.installed_build()) == CHINA
    assert fb_lab.call(lambda: handset.state) == BootState.BOOTLOADER


def test_wrong_product_image_is_rejected(fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path) -> None:
    other: Build = CHINA.model_copy(update={"bootloader": CHINA.bootloader.model_copy(update={"product": "TA-1062"})})
    before = fb_lab.call(lambda: handset.storage.read("system_a"))
    proc = fastboot(handset, "update", str(image.write_factory_zip(other, tmp_path / "other.zip")))
    assert proc.returncode != 0
    assert "Device product is 'B2N'." in proc.stderr
    assert "Update requires 'TA-1062'." in proc.stderr
    assert "requirements not met" in proc.stderr
    assert fb_lab.call(lambda: handset.storage.read("system_a")) == before
    assert fb_lab.call(lambda: handset.state) == BootState.BOOTLOADER


def test_corrupt_system_image_does_not_boot(
    fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt = bytearray(image.system_image(CHINA))
    corrupt[len(image.MAGIC) + 10] ^= 0xFF  # flip a byte inside the manifest
    path = tmp_path / "system.img"
    path.write_bytes(bytes(corrupt))
    assert fastboot(handset, "flash", "system", str(path)).returncode == 0
    states = StateLog(fb_lab, handset, monkeypatch)
    assert fastboot(handset, "reboot").returncode == 0
    states.wait_for(BootState.OFF, BootState.BOOTLOADER)
    assert BootState.BOOTING not in states.states
    assert fb_lab.call(lambda: handset.system) is None


def test_garbage_system_image_does_not_boot(
    fb_lab: VirtualLab, handset: VirtualHandset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "system.img"
    path.write_bytes(os.urandom(2 * image.BLOCK))
    assert fastboot(handset, "flash", "system", str(path)).returncode == 0
    states = StateLog(fb_lab, handset, monkeypatch)
    assert fastboot(handset, "reboot").returncode == 0
    states.wait_for(BootState.OFF, BootState.BOOTLOADER)
    assert BootState.BOOTING not in states.states
