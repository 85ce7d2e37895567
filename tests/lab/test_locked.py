"""A locked bootloader: the build goes on through recovery (`adb sideload` of its signed OTA) and
the factory reset goes through recovery, both reached with `adb root` of a userdebug lab build;
the doctor says so, and still refuses what has no way through (a user build, a generated OTA on a
physical handset). fastboot keeps refusing flash and erase."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.errors import FastbootError, SideloadError
from devicelab.lab.lab import Lab
from devicelab.model.builds import load_build
from devicelab.virtual import ota
from devicelab.virtual.lab import VirtualLab
from tests.lab.test_preflight import _static_gate, doctor, lab_file, lock_bootloader

RUNNING = "nokia7plus-00WW_3_22C-userdebug"
LOCKED_BUILD = "nokia7plus-00WW_3_22C_SP05-userdebug"


def locked_lab(port: int, build: str = RUNNING, seed: str = "locked") -> VirtualLab:
    virtual = VirtualLab(1, build=build, adb_server_port=port, boot_seconds=0.2, seed=seed, clock_scale=60,
                         sim="telenor-no")
    virtual.start()
    virtual.wait_booted(10)
    lock_bootloader(virtual, port, unlock_allowed=False)
    return virtual


@pytest.fixture
def locked(private_adb_port: int) -> Iterator[VirtualLab]:
    virtual = locked_lab(private_adb_port)
    try:
        yield virtual
    finally:
        virtual.stop()


def test_the_doctor_finds_the_way_through_recovery_and_refuses_what_has_none(locked: VirtualLab,
                                                                               tmp_path: Path) -> None:
    path = lab_file(tmp_path / "lab.yaml", locked)
    through = doctor(path, LOCKED_BUILD)["bootloader"]
    assert through.status == "ok", through
    assert "adb sideload" in through.detail
    assert "factory reset through recovery" in through.detail
    user = doctor(path, "nokia7plus-00WW_3_22C_SP05")["bootloader"]
    assert user.status == "missing"
    assert "user build" in user.detail
    physical = doctor(lab_file(tmp_path / "usb.yaml", locked, tags="{}"), LOCKED_BUILD)["bootloader"]
    assert physical.status == "missing"
    assert "generated stand-in" in physical.detail
    assert "ota: {package:" in physical.fix


def test_the_harness_sideloads_and_resets_through_recovery(locked: VirtualLab, tmp_path: Path) -> None:
    build = load_build(LOCKED_BUILD)
    other = build.model_copy(update={"fingerprint": build.fingerprint.replace("B2N_sprout", "NB1")})
    with Lab.from_file(lab_file(tmp_path / "lab.yaml", locked)) as lab:
        handset = lab.handset(lab.entries[0])
        with pytest.raises(FastbootError, match="not allowed in Lock State"):  # never kinder: fastboot refuses
            handset.flash(build)
        handset.fastboot.reboot()
        handset.wait_for_boot()
        with pytest.raises(SideloadError, match=r"\[.*\] sideload .*adb sideload exit 1"):
            handset.install_ota(build, package=ota.write_ota_package(other, tmp_path / "other.zip"))
        assert "Package is for product NB1" in locked.call(lambda: "\n".join(locked.handsets[0].recovery.lines))
        assert handset.fingerprint() != build.fingerprint  # back in the old build: nothing was installed
        handset.install_ota(build)
        assert handset.fingerprint() == build.fingerprint
        wiped = locked.call(lambda: locked.handsets[0].storage.userdata_generation)
        handset.recovery_reset()
        assert locked.call(lambda: locked.handsets[0].storage.userdata_generation) > wiped
        assert handset.getprop("ro.boot.flash.locked") == "1"


def test_the_gate_installs_and_resets_a_locked_handset_through_recovery(private_adb_port: int,
                                                                        tmp_path: Path) -> None:
    virtual = locked_lab(private_adb_port, seed="gate-locked-ota")
    try:
        proc = _static_gate(lab_file(tmp_path / "lab.yaml", virtual), tmp_path / "out", "--build", LOCKED_BUILD)
        assert proc.returncode in (0, 2), proc.stdout + proc.stderr  # judged
        steps = [step["name"] for step in json.loads((tmp_path / "out" / "verdict.json").read_text())["timeline"]]
        assert f"sideload {LOCKED_BUILD}" in steps
        assert "factory reset" in steps
        assert not any(name.startswith("flash") for name in steps)
        running = virtual.call(lambda: virtual.handsets[0].system.build.name)  # type: ignore[union-attr]
        assert running == LOCKED_BUILD
        assert "Data wipe complete." in virtual.call(lambda: "\n".join(virtual.handsets[0].recovery.lines))
        evidence = (tmp_path / "out" / "evidence" / "rack-1" / "evidence.jsonl").read_text().splitlines()
        canaries = [json.loads(line) for line in evidence if '"kind":"canary"' in line]
        assert canaries, "no canary ran"
        assert all(c["ok"] for c in canaries), canaries  # the proxy over adb reverse, after recovery's wipe
    finally:
        virtual.stop()
