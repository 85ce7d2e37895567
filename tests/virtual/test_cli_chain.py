"""The whole reflash path with nothing but the real command-line tools, as a person at a lab
bench would type it: adb reboot bootloader, fastboot update, fastboot reboot, adb sees the new build."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from devicelab.model.builds import load_build
from devicelab.virtual.image import write_factory_zip
from devicelab.virtual.lab import VirtualLab


def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def test_reboot_bootloader_update_reboot_with_the_real_cli(lab: VirtualLab, adb_port: int, tmp_path: Path) -> None:
    info = lab.info()[0]
    adb = ("adb", "-P", str(adb_port), "-s", info.adb_serial)
    leaky = load_build("nokia7plus-00WW_3_22C")
    image = write_factory_zip(leaky, tmp_path / "image.zip")
    assert run(*adb, "shell", "getprop ro.build.fingerprint").stdout.strip() == info.fingerprint

    assert run(*adb, "reboot", "bootloader").returncode == 0
    end = time.monotonic() + 10
    while info.adb_serial in run("adb", "-P", str(adb_port), "devices").stdout and time.monotonic() < end:
        time.sleep(0.05)
    assert info.adb_serial not in run("adb", "-P", str(adb_port), "devices").stdout  # gone, like a USB handset

    fastboot = ("fastboot", "-s", info.fastboot)
    update = run(*fastboot, "update", "--skip-reboot", str(image), timeout=120)
    assert update.returncode == 0, update.stderr
    assert run(*fastboot, "reboot").returncode == 0

    assert run(*adb, "wait-for-device", timeout=30).returncode == 0  # back without any `adb connect`
    assert run(*adb, "shell", "getprop ro.build.fingerprint").stdout.strip() == leaky.fingerprint
    listing = run("adb", "-P", str(adb_port), "devices", "-l").stdout
    assert f"{info.adb_serial}" in listing
    assert "model:Nokia_7_plus" in listing
    assert listing.count("offline") == 0
