"""A boot loop: the virtual handset resets partway through every boot (adb comes and goes, boot
ids change, `sys.boot_completed` never reaches 1), and the harness names it, in bounded time."""

from __future__ import annotations

import asyncio
import pickle
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from devicelab.adb import AdbClient, AdbDevice, AdbServer
from devicelab.errors import BootTimeoutError
from devicelab.handset import Handset
from devicelab.handset.fastboot import Fastboot
from devicelab.model.builds import load_build
from devicelab.model.inventory import AdbAddress, HandsetEntry, Timeouts
from devicelab.virtual.android import AndroidSystem
from devicelab.virtual.faults import inject
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.identity import HardwareIdentity
from devicelab.virtual.lab import VirtualLab

BUILD = "nokia7plus-00WW_3_22C_SP05"


async def _watch_loop(handset: VirtualHandset, seconds: float) -> dict[str, AndroidSystem]:
    """The boots seen while watching, by boot id; fails if any boot completes."""
    seen: dict[str, AndroidSystem] = {}
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        assert handset.state != BootState.BOOTED
        if handset.system is not None:
            assert handset.system.props.get("sys.boot_completed") != "1"
            seen[handset.system.boot_id] = handset.system
        await asyncio.sleep(0.005)
    return seen


@pytest.mark.parametrize("when", ["booted", "mid-boot"])
def test_a_looping_handset_resets_every_boot_before_it_completes(when: str) -> None:
    async def scenario() -> None:
        handset = VirtualHandset("loop", HardwareIdentity.generate("loop"), boot_seconds=0.05, reboot_delay=0.01)
        handset.install(load_build(BUILD))
        if when == "mid-boot":
            handset.boot_seconds = 60.0  # the fault strikes a boot under way
        await handset.power_on()
        if when == "booted":
            await handset.wait_for_state(BootState.BOOTED, 5)
        applied, detail = await inject(handset, "boot_loop", 0.05)
        assert applied, detail
        if when == "booted":
            assert handset.state == BootState.BOOTED  # the running system is not hit: its next boot is
            handset.reboot()
            await handset.wait_for_state(BootState.BOOTING, 2)
        boots = await _watch_loop(handset, 0.6)
        assert handset.boot_resets >= 3
        assert len(boots) >= 3  # each boot is a new one (a new boot id), not one long boot
        # each boot that reset says why in its log
        assert any("boot loop" in e.message for system in boots.values() for e in system.logcat.entries)
        await handset.power_off()
        await asyncio.sleep(0.2)  # power off ends the loop: no reset brings it back
        assert handset.state == BootState.OFF

    asyncio.run(asyncio.wait_for(scenario(), 20))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def lab() -> Iterator[VirtualLab]:
    port = _free_port()
    try:
        with VirtualLab(1, build=BUILD, adb_server_port=port, boot_seconds=0.1, seed="boot-loop") as running:
            running.wait_booted(10)
            yield running
    finally:
        subprocess.run(["adb", "-P", str(port), "kill-server"], capture_output=True, timeout=15, check=False)


def _handset(lab: VirtualLab, boot: float) -> Handset:
    info = lab.info()[0]
    entry = HandsetEntry(id="looping", serialno=info.serialno, adb=AdbAddress(server="local", serial=info.adb_serial),
                         fastboot=info.fastboot, model=info.device)
    adb = AdbDevice(AdbClient(AdbServer(port=lab.adb_server_port)), info.adb_serial, label=info.serialno)
    return Handset(entry, adb, Fastboot(info.fastboot, label=info.serialno),
                   Timeouts(boot=boot, shell=5, fastboot=5, flash=30, reboot_drop=5, lease=5))


def test_wait_for_boot_names_a_boot_loop_within_its_timeout(lab: VirtualLab) -> None:
    handset = _handset(lab, boot=6.0)
    handset.adb.wait_for_device(10)
    assert handset.reboot() < 6.0  # before the fault: boots complete
    virtual = lab.handsets[0]
    lab.call(lambda: virtual.loop_boots(0.6))
    start = time.monotonic()
    with pytest.raises(BootTimeoutError) as info:
        handset.reboot()
    assert time.monotonic() - start < 6.0 + 5.0 + 2.0  # the boot timeout, the reboot's drop wait, slack
    error = info.value
    assert error.serial == handset.serial
    assert error.step == "wait-for-boot"
    assert "boot loop" in str(error), str(error)
    assert error.reboots >= 2
    assert str(error).startswith(f"[{handset.serial}] wait-for-boot: sys.boot_completed not 1 after 6 s")
    assert lab.call(lambda: virtual.boot_resets) >= error.reboots
    assert pickle.loads(pickle.dumps(error)).reboots == error.reboots  # xdist ships it between processes


def test_a_handset_that_never_answers_is_not_called_a_boot_loop(lab: VirtualLab) -> None:
    handset = _handset(lab, boot=1.5)
    lab.call(lab.handsets[0].power_off())
    with pytest.raises(BootTimeoutError) as info:
        handset.wait_for_boot(step="health check")
    assert "not on adb after 2 s" in str(info.value)
    assert "boot loop" not in str(info.value)
    assert info.value.step == "health check"
