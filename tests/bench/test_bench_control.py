"""Harness overhead per operation against the raw adb/fastboot CLI doing the same, measured in
one run (these machines are noisy: compare only within a run). Run with `make bench`."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devicelab.adb import AdbClient, AdbDevice, AdbServer
from devicelab.handset import Handset
from devicelab.handset.fastboot import Fastboot
from devicelab.handset.images import factory_image
from devicelab.model.builds import load_build
from devicelab.model.inventory import AdbAddress, HandsetEntry, Timeouts
from devicelab.virtual.lab import VirtualLab

pytestmark = pytest.mark.bench


def median_seconds(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_overhead(port: int) -> list[tuple[str, float, float]]:
    """(operation, raw CLI seconds, devicelab seconds) medians on one virtual handset behind adb server `port`."""
    with VirtualLab(1, adb_server_port=port, boot_seconds=0.2, sim="telenor-no", seed="bench") as lab:
        lab.wait_booted(10)
        info = lab.info()[0]
        adb = ["adb", "-P", str(port), "-s", info.adb_serial]
        entry = HandsetEntry(id="bench", serialno=info.serialno, adb=AdbAddress(serial=info.adb_serial),
                             fastboot=info.fastboot, model="B2N", sim="telenor-no")
        device = AdbDevice(AdbClient(AdbServer(port=port)), info.adb_serial, info.serialno)
        handset = Handset(entry, device, Fastboot(info.fastboot, info.serialno), Timeouts(boot=30))

        def cli(*args: str) -> str:
            return subprocess.run([*adb, *args], capture_output=True, text=True, timeout=30, check=True).stdout

        identity_cmds = ["getprop ro.build.version.sdk", "service call iphonesubinfo 3 i32 0 s16 com.android.shell",
                         "service call iphonesubinfo 3 i32 1 s16 com.android.shell",
                         "service call iphonesubinfo 7 s16 com.android.shell",
                         "service call iphonesubinfo 11 s16 com.android.shell",
                         "service call iphonesubinfo 13 s16 com.android.shell", "cat /sys/class/net/wlan0/address",
                         "settings get secure bluetooth_address", "settings get secure android_id",
                         "dumpsys telephony.registry", "dumpsys account", "getprop ro.build.fingerprint",
                         "getprop gsm.sim.operator.alpha"]
        image = factory_image(load_build("nokia7plus-00WW_3_22C_SP05"))
        fb = ["fastboot", "-s", info.fastboot]

        def raw_flash() -> None:
            cli("reboot", "bootloader")
            while subprocess.run([*fb, "getvar", "product"], capture_output=True, timeout=10).returncode != 0:
                time.sleep(0.05)
            subprocess.run([*fb, "update", str(image)], capture_output=True, timeout=120, check=True)
            subprocess.run([*adb, "wait-for-device"], capture_output=True, timeout=60, check=True)
            while cli("shell", "getprop sys.boot_completed").strip() != "1":
                time.sleep(0.05)

        build = load_build("nokia7plus-00WW_3_22C_SP05")
        rows = [
            ("shell round trip", median_seconds(lambda: cli("shell", "echo hi"), 30),
             median_seconds(lambda: handset.shell("echo hi"), 30)),
            ("identity read", median_seconds(lambda: [cli("shell", c) for c in identity_cmds], 5),
             median_seconds(handset.identity, 5)),
            ("flash + boot cycle", median_seconds(raw_flash, 3),
             median_seconds(lambda: handset.flash(build, image=Path(image)), 3)),
        ]
    return rows


def test_harness_overhead_against_raw_cli(private_adb_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    rows = measure_overhead(private_adb_port)
    with capsys.disabled():
        print("\n\nharness overhead against the raw CLI (median of one run)")
        print(f"{'operation':<22}{'raw CLI':>12}{'devicelab':>12}{'ratio':>8}")
        for name, raw, ours in rows:
            print(f"{name:<22}{raw * 1000:>10.1f}ms{ours * 1000:>10.1f}ms{ours / raw:>8.2f}")
