"""The handset in the adb server across reboots, root restarts, dropped links and lab shutdown."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.virtual.handset import BootState
from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import listed, run_adb, wait_until

USERDEBUG = "nokia7plus-00WW_3_22C-userdebug"


def state_of(lab: VirtualLab) -> BootState:
    return lab.call(lambda: lab.handsets[0].state)


def test_reboot_goes_away_and_comes_back_without_adb_connect(lab: VirtualLab, adb_port: int, serial: str) -> None:
    boots_before = lab.call(lambda: lab.handsets[0].userdata.boot_count)
    proc = run_adb(adb_port, "-s", serial, "reboot")
    assert proc.returncode == 0, proc.stderr
    assert listed(adb_port).get(serial) != "device"  # the link dropped with the reboot
    wait_until(lambda: listed(adb_port).get(serial) == "device", 5, "the handset back in adb devices")
    assert lab.call(lambda: lab.handsets[0].userdata.boot_count) == boots_before + 1
    assert run_adb(adb_port, "-s", serial, "shell", "echo back").stdout == "back\n"
    for _ in range(2):  # repeated reboots leave no stale entries behind
        assert run_adb(adb_port, "-s", serial, "reboot").returncode == 0
        wait_until(lambda: listed(adb_port).get(serial) == "device", 5, "the handset back in adb devices")
    assert list(listed(adb_port)) == [serial]


def test_reboot_bootloader_leaves_adb(lab: VirtualLab, adb_port: int, serial: str) -> None:
    assert run_adb(adb_port, "-s", serial, "reboot", "bootloader").returncode == 0
    wait_until(lambda: state_of(lab) == BootState.BOOTLOADER, 5, "the bootloader")
    wait_until(lambda: serial not in listed(adb_port), 3, "the handset to leave adb devices")
    time.sleep(0.3)
    assert serial not in listed(adb_port)


def test_root_is_refused_on_a_user_build(lab: VirtualLab, adb_port: int, serial: str) -> None:
    proc = run_adb(adb_port, "-s", serial, "root")
    assert "adbd cannot run as root in production builds" in proc.stdout + proc.stderr
    assert listed(adb_port).get(serial) == "device"
    assert lab.call(lambda: lab.handsets[0].system.rooted) is False  # type: ignore[union-attr]


@pytest.fixture
def userdebug_lab(adb_port: int) -> Iterator[VirtualLab]:
    virtual_lab = VirtualLab(1, build=USERDEBUG, adb_server_port=adb_port, boot_seconds=0.2)
    with virtual_lab:
        virtual_lab.wait_booted(timeout=10)
        serial = virtual_lab.info()[0].adb_serial
        wait_until(lambda: listed(adb_port).get(serial) == "device", 5, "the handset in adb devices")
        yield virtual_lab


def test_reboot_recovery_shows_the_recovery_state_on_userdebug(userdebug_lab: VirtualLab, adb_port: int) -> None:
    # a user build's recovery has no adbd in its menu (tests/virtual/test_sideload.py)
    serial = userdebug_lab.info()[0].adb_serial
    assert run_adb(adb_port, "-s", serial, "reboot", "recovery").returncode == 0
    wait_until(lambda: listed(adb_port).get(serial) == "recovery", 5, "the handset in recovery")
    assert state_of(userdebug_lab) == BootState.RECOVERY
    assert run_adb(adb_port, "-s", serial, "reboot").returncode == 0
    wait_until(lambda: listed(adb_port).get(serial) == "device", 5, "the handset back in Android")


def test_root_restarts_adbd_as_root_on_userdebug(userdebug_lab: VirtualLab, adb_port: int, tmp_path: Path) -> None:
    lab = userdebug_lab
    tmp_path_file = tmp_path / "rooted.txt"
    tmp_path_file.write_text("root\n")
    serial = lab.info()[0].adb_serial
    proc = run_adb(adb_port, "-s", serial, "root")
    assert proc.returncode == 0, proc.stderr
    assert "restarting adbd as root" in proc.stdout
    wait_until(lambda: listed(adb_port).get(serial) == "device", 5, "the handset back after the restart")
    assert lab.call(lambda: lab.handsets[0].system.rooted) is True  # type: ignore[union-attr]
    assert run_adb(adb_port, "-s", serial, "shell", "id -u").stdout == "0\n"
    push = run_adb(adb_port, "-s", serial, "push", str(tmp_path_file), "/system/etc/rooted.txt")
    assert push.returncode != 0  # dm-verity keeps /system read-only for root too (B2N is system-as-root)
    push = run_adb(adb_port, "-s", serial, "push", str(tmp_path_file), "/data/system/rooted.txt")
    assert push.returncode == 0, push.stdout + push.stderr  # root may write where the shell user may not
    assert "already running as root" in run_adb(adb_port, "-s", serial, "root").stdout
    proc = run_adb(adb_port, "-s", serial, "unroot")
    assert "restarting adbd as non root" in proc.stdout
    wait_until(lambda: listed(adb_port).get(serial) == "device", 5, "the handset back after the restart")
    assert lab.call(lambda: lab.handsets[0].system.rooted) is False  # type: ignore[union-attr]
    assert run_adb(adb_port, "-s", serial, "shell", "id -u").stdout == "2000\n"


def test_dropped_link_comes_back_by_itself(lab: VirtualLab, adb_port: int, serial: str) -> None:
    adbd = lab.handsets[0].adbd
    assert adbd is not None
    lab.call(adbd.drop_connections())  # type: ignore[attr-defined]
    wait_until(lambda: listed(adb_port).get(serial) == "device", 5, "the handset back after the drop")
    assert run_adb(adb_port, "-s", serial, "shell", "echo back").stdout == "back\n"


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_four_handsets_side_by_side_and_nothing_left_after_stop(adb_port: int) -> None:
    lab = VirtualLab(4, adb_server_port=adb_port, boot_seconds=0.2)
    with lab:
        lab.wait_booted(timeout=10)
        infos = lab.info()
        serials = {info.adb_serial for info in infos}
        assert len(serials) == 4
        wait_until(lambda: all(listed(adb_port).get(s) == "device" for s in serials), 5, "four handsets")
        for info in infos:
            assert run_adb(adb_port, "-s", info.adb_serial, "shell", f"echo {info.serialno}").stdout.strip() \
                == info.serialno
        ports = [h.adbd.port for h in lab.handsets] + [int(i.fastboot.rsplit(":", 1)[1]) for i in infos]  # type: ignore[union-attr]
        assert len(set(ports)) == 8
        assert not any(5555 <= p <= 5585 for p in ports)
    assert listed(adb_port) == {}
    assert all(refuses(port) for port in ports)
