"""USB debugging as a real build gates it, driven by the real adb: a retail phone has adb off
until the wizard is done and the switch is on, asks "Allow USB debugging?" for a host key it does
not know (`unauthorized` meanwhile), and remembers "Always allow" until a wipe; a lab build lets
the lab's key in at once."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devicelab.model.builds import load_build
from devicelab.virtual.control import handle_request
from devicelab.virtual.handset import BootState
from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import free_port, listed, run_adb, wait_until
from tests.virtual.fastboot_helpers import fastboot, getvar, needs_fastboot

RETAIL = "nokia7plus-00WW_3_22C-retail"


def control(lab: VirtualLab, op: str, **args: Any) -> dict[str, Any]:
    """What a person's finger does to the handset (the control channel's stand-in)."""
    serialno = lab.handsets[0].hardware.serialno
    line = json.dumps({"op": op, "serialno": serialno, **args}).encode()
    reply: dict[str, Any] = lab.call(handle_request(lab, line))
    return reply


@pytest.fixture
def retail(adb_port: int) -> Iterator[VirtualLab]:
    lab = VirtualLab(1, build=RETAIL, adb_server_port=adb_port, boot_seconds=0.2)
    lab.start()
    try:
        lab.wait_booted(timeout=10)
        yield lab
    finally:
        lab.stop()


def on_screen(lab: VirtualLab) -> str:
    """The virtual screen's hierarchy (what uiautomator would dump), read in the lab."""
    from devicelab.virtual.ui.compose import compose
    from devicelab.virtual.ui.device import ui_state
    from devicelab.virtual.ui.hierarchy import dump_xml

    return lab.call(lambda: dump_xml(compose(ui_state(lab.handsets[0])).windows))


def state_of(lab: VirtualLab, port: int) -> str | None:
    return listed(port).get(lab.info()[0].adb_serial)


def test_retail_build_has_adb_off_until_the_wizard_is_done_and_debugging_is_on(retail: VirtualLab,
                                                                                adb_port: int) -> None:
    system = retail.handsets[0].system
    assert system is not None
    assert system.settings("global")["adb_enabled"] == "0"
    assert system.getprop("ro.adb.secure") == "1"
    assert state_of(retail, adb_port) is None  # adbd does not run: the host sees nothing at all

    refused = control(retail, "usb_debugging", enabled=True)
    assert not refused["ok"]
    assert "setup wizard is not finished" in refused["error"]

    assert control(retail, "finish_setup")["ok"]
    assert control(retail, "usb_debugging", enabled=True)["ok"]
    # the server's keys are not on this phone: it asks, and adb lists it unauthorized meanwhile
    wait_until(lambda: state_of(retail, adb_port) == "unauthorized", 10, "the handset unauthorized")
    shell = run_adb(adb_port, "-s", retail.info()[0].adb_serial, "shell", "true")
    assert shell.returncode == 1
    assert "unauthorized" in shell.stderr
    prompt = control(retail, "usb_state")["result"]["prompt"]
    assert prompt is not None
    assert prompt.count(":") == 15
    screen = on_screen(retail)  # SystemUI's dialog, over the home screen
    assert "Allow USB debugging?" in screen
    assert prompt in screen
    assert "Always allow from this computer" in screen

    assert control(retail, "usb_prompt", allow=True, always=True)["ok"]
    wait_until(lambda: state_of(retail, adb_port) == "device", 10, "the handset authorized")
    assert "Allow USB debugging?" not in on_screen(retail)
    root = run_adb(adb_port, "-s", retail.info()[0].adb_serial, "root")
    assert "adbd cannot run as root in production builds" in root.stdout

    # "Always allow" survives a reboot, with no prompt
    handset = retail.handsets[0]
    retail.call(lambda: handset.reboot("system"))
    retail.wait_booted(timeout=10)
    wait_until(lambda: state_of(retail, adb_port) == "device", 15, "the handset back, still authorized")
    assert control(retail, "usb_state")["result"]["prompt"] is None

    # ... but not a factory reset: adb is off again
    retail.call(handset.factory_reset)
    retail.call(lambda: handset.reboot("system"))
    wait_until(lambda: handset.state == BootState.BOOTED and state_of(retail, adb_port) is None, 15,
               "the wiped handset gone from adb")
    assert handset.system is not None
    assert handset.system.settings("global")["adb_enabled"] == "0"


def test_a_prompt_cancelled_leaves_the_host_unauthorized(retail: VirtualLab, adb_port: int) -> None:
    control(retail, "finish_setup")
    control(retail, "usb_debugging", enabled=True)
    wait_until(lambda: state_of(retail, adb_port) == "unauthorized", 10, "the handset unauthorized")
    assert control(retail, "usb_prompt", allow=False)["ok"]
    assert state_of(retail, adb_port) == "unauthorized"
    assert not control(retail, "usb_prompt", allow=True)["ok"]  # nothing left on the screen


def test_lab_build_trusts_the_lab_key_and_asks_for_any_other(tmp_path: Path) -> None:
    """The lab build's /adb_keys holds the lab key; a server without it (a stranger's laptop) is
    kept out until someone taps Allow."""
    if shutil.which("adb") is None:
        pytest.skip("adb is not installed")
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}  # no ADB_VENDOR_KEYS: only a fresh own key
    started = subprocess.run(["adb", "-P", str(port), "start-server"], env=env, capture_output=True,
                             timeout=30, check=False)
    assert started.returncode == 0, started.stderr
    lab = VirtualLab(1, adb_server_port=port, boot_seconds=0.2)
    try:
        lab.start()
        lab.wait_booted(timeout=10)
        assert load_build(lab.build.name).access.adb_keys == ("lab",)
        wait_until(lambda: state_of(lab, port) == "unauthorized", 10, "a stranger's host unauthorized")
        assert control(lab, "usb_prompt", always=False)["ok"]
        wait_until(lambda: state_of(lab, port) == "device", 10, "the stranger let in once")
    finally:
        lab.stop()
        subprocess.run(["adb", "-P", str(port), "kill-server"], env=env, capture_output=True, timeout=15,
                       check=False)


@needs_fastboot
def test_retail_bootloader_is_locked_and_refuses_to_flash(retail: VirtualLab, tmp_path: Path) -> None:
    handset = retail.handsets[0]
    retail.call(lambda: handset.reboot("bootloader"))
    retail.call(handset.wait_for_state(BootState.BOOTLOADER, 10))
    assert getvar(handset, "unlocked") == "no"
    assert getvar(handset, "current-slot") == "a"
    assert getvar(handset, "slot-count") == "2"
    img = tmp_path / "boot.img"
    img.write_bytes(b"\0" * 4096)
    flash = fastboot(handset, "flash", "boot", str(img))
    assert "Flashing is not allowed in Lock State" in flash.stderr
    unlock = fastboot(handset, "flashing", "unlock")
    assert unlock.returncode != 0  # "OEM unlocking" is off on a shop's phone


def test_userdebug_root_meets_dm_verity_and_a_tmpfs_overlay_goes_with_the_reboot(adb_port: int) -> None:
    """B2N is system-as-root with dm-verity: even root cannot write /system; a tmpfs over the CA
    folder takes a CA until the next reboot (which is why the gate puts it back after each one)."""
    with VirtualLab(1, build="nokia7plus-00WW_3_22C-userdebug", adb_server_port=adb_port, boot_seconds=0.2) as lab:
        lab.wait_booted(timeout=10)
        serial = lab.info()[0].adb_serial
        wait_until(lambda: listed(adb_port).get(serial) == "device", 10, "the handset")
        assert "restarting adbd as root" in run_adb(adb_port, "-s", serial, "root").stdout
        wait_until(lambda: listed(adb_port).get(serial) == "device", 10, "adbd back as root")
        store = "/system/etc/security/cacerts"
        direct = run_adb(adb_port, "-s", serial, "shell", f"echo x > {store}/ours.0")
        assert direct.returncode != 0
        assert "Read-only file system" in direct.stderr + direct.stdout
        overlay = run_adb(adb_port, "-s", serial, "shell",
                          f"mkdir -p /data/local/tmp/k && cp {store}/* /data/local/tmp/k/ && "
                          f"mount -t tmpfs tmpfs {store} && cp /data/local/tmp/k/* {store}/ && echo x > {store}/ours.0")
        assert overlay.returncode == 0, overlay.stderr
        before = run_adb(adb_port, "-s", serial, "shell", f"ls {store}").stdout.split()
        assert "ours.0" in before
        run_adb(adb_port, "-s", serial, "reboot")
        wait_until(lambda: lab.handsets[0].state == BootState.BOOTED and listed(adb_port).get(serial) == "device",
                   15, "the handset back")
        after = run_adb(adb_port, "-s", serial, "shell", f"ls {store}").stdout.split()
        assert set(after) == set(before) - {"ours.0"}
