"""`devicelab gate --wizard operator` on the virtual lab: the retail build (adb off after the wipe)
behind the gateway, its wizard walked by a stand-in for a person's finger (the virtual lab's
control channel), the capture needing no adb. Needs CAP_NET_ADMIN (skips, saying so, without it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devicelab.capture.gateway import privilege
from devicelab.virtual.control import ControlClient, ControlError

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(privilege.missing()),
                                                   reason=f"the gateway needs {', '.join(privilege.missing())}")]

RETAIL = "nokia7plus-00WW_3_22C-retail"  # the 2019 leaky batch as bought: zzhc on every boot, adb off
LAB = """name: operator-lab
provider:
  kind: virtual
  options: {count: 1, build: nokia7plus-00WW_3_22C, sim: telenor-no, boot_seconds: 0.5, clock_scale: 60}
timeouts: {boot: 30, shell: 15, fastboot: 20, flash: 120, reboot_drop: 15, lease: 120}
"""


def _finish_setup(control: ControlClient, serial: str) -> bool:
    try:
        return bool(control.request("finish_setup", serialno=serial).get("setup_complete"))
    except ControlError:  # not running Android yet: the phone is still booting
        return False


def _stand_in(done_dir: Path, state: Path, stop: threading.Event, walked: list[str]) -> None:
    """The person: waits for devicelab's instructions, walks the wizard with a finger (the control
    channel's finish_setup), then says it is done."""
    while not stop.is_set():
        for waiting in done_dir.glob("*.waiting"):
            asked = json.loads(waiting.read_text())
            (lab_state,) = state.glob("virtual/*/state.json")
            control = ControlClient(json.loads(lab_state.read_text())["control"])
            end = time.monotonic() + 30
            while not _finish_setup(control, asked["serial"]):
                if time.monotonic() > end:
                    return
                time.sleep(0.2)  # still booting after the wipe
            usb = control.request("usb_state", serialno=asked["serial"])
            walked.append(asked["instructions"] + f" [adb_enabled={usb['adb_enabled']}]")
            Path(asked["done"]).touch()
            return
        stop.wait(0.1)


def test_a_person_walks_the_retail_builds_wizard_behind_the_gateway_and_zzhc_fails(tmp_path: Path) -> None:
    lab, out, state, done_dir = tmp_path / "lab.yaml", tmp_path / "out", tmp_path / "state", tmp_path / "operator"
    lab.write_text(LAB)
    stop, walked = threading.Event(), []
    person = threading.Thread(target=_stand_in, args=(done_dir, state, stop, walked), daemon=True)
    person.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "devicelab", "gate", "--build", RETAIL, "--lab", str(lab),
                               "--capture", "gateway", "--wizard", "operator", "--operator-done", str(done_dir),
                               "--operator-timeout", "60", "--window", "5", "--out", str(out), "--no-allure-html"],
                              capture_output=True, text=True, timeout=240,
                              env={**os.environ, "DEVICELAB_STATE_DIR": str(state)}, stdin=subprocess.DEVNULL)
    finally:
        stop.set()
        person.join(10)
    output = proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert walked, output  # the person was asked, and walked the wizard
    assert "walk the wizard" in walked[0]
    assert walked[0].endswith("[adb_enabled=False]")  # the retail build runs: adb off after the wipe
    assert proc.returncode == 1, output
    verdict = json.loads((out / "verdict.json").read_text())
    (handset,) = verdict["handsets"]
    zzhc = {f["kind"] for f in handset["findings"] if f["host"] == "zzhc.vnet.cn"}
    assert {"imei", "iccid", "imsi"} <= zzhc  # the lab's identity (inventory + SIM profile): adb never read it
    assert any(v["host"] == "zzhc.vnet.cn" for v in handset["violations"])
    steps = [s["name"] for s in verdict["timeline"] if s.get("handset")]
    assert "operator walks the wizard" in steps
    assert not [s for s in steps if s.startswith("first boot") or s == "read identity"]  # nothing asked adb
    destinations = {(d["host"], d["protocol"]) for d in handset["destinations"]}
    assert ("zzhc.vnet.cn", "tcp") in destinations
    assert list((out / "evidence").glob("*/handset.pcap"))


def test_the_retail_build_is_still_refused_without_the_operator(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "devicelab", "gate", "--build", RETAIL, "--capture", "gateway",
                           "--out", str(tmp_path / "out"), "--no-allure-html"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "DEVICELAB_STATE_DIR": str(tmp_path / "state")})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "retail" in proc.stdout + proc.stderr
    assert time.monotonic() - started < 15
