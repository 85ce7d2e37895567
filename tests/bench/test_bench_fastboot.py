"""Benchmark: `fastboot update` of a generated factory image, reboot-to-booted, and a resparsed
flash, with the real Debian fastboot against a virtual handset. Prints times from one run."""

from __future__ import annotations

import functools
import os
import statistics
import time
from pathlib import Path

import pytest

from devicelab.model.builds import load_build
from devicelab.virtual import image
from devicelab.virtual.handset import BootState, VirtualHandset
from tests.virtual.fastboot_helpers import fastboot, in_bootloader, needs_fastboot, running_lab, target

ROUNDS = 3
MiB = 1024 * 1024


def _fingerprint(h: VirtualHandset) -> str:
    return h.system.build.fingerprint if h.system is not None else ""


@pytest.mark.bench
@needs_fastboot
def test_bench_fastboot_update_and_reboot(tmp_path: Path) -> None:
    china = load_build("nokia7plus-00CN_3_340")
    zip_path = image.write_factory_zip(china, tmp_path / "china.zip")
    big = tmp_path / "system.img"
    big.write_bytes(os.urandom(48 * MiB) + b"\0" * (16 * MiB))
    update_s: list[float] = []
    booted_s: list[float] = []
    flash_s: list[float] = []
    with running_lab() as lab:
        for _ in range(ROUNDS):
            h = in_bootloader(lab)
            start = time.perf_counter()
            proc = fastboot(h, "update", str(zip_path))
            flashed = time.perf_counter()
            assert proc.returncode == 0, proc.stderr
            lab.call(h.wait_for_state(BootState.BOOTED, 10), timeout=11)
            booted = time.perf_counter()
            assert lab.call(functools.partial(_fingerprint, h)) == china.fingerprint
            update_s.append(flashed - start)
            booted_s.append(booted - flashed)

            h = in_bootloader(lab)
            lab.call(functools.partial(setattr, target(h), "max_download_size", 16 * MiB))
            start = time.perf_counter()
            proc = fastboot(h, "flash", "system", str(big), timeout=120)
            flash_s.append(time.perf_counter() - start)
            assert proc.returncode == 0, proc.stderr
        boot_seconds = lab.boot_seconds
    update, booted, flash = (statistics.median(v) for v in (update_s, booted_s, flash_s))
    print(f"\nfastboot update (6 images, sparse system): median {update * 1000:.1f} ms over {ROUNDS} runs")
    print(f"reboot to booted (boot_seconds={boot_seconds}): median {booted * 1000:.1f} ms "
          f"({(booted - (boot_seconds or 0)) * 1000:.1f} ms beyond the configured boot time)")
    print(f"flash 64 MiB resparsed at 16 MiB: median {flash * 1000:.0f} ms ({64 / flash:.0f} MiB/s)")
