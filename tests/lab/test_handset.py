"""The control layer against the embedded virtual lab, through the plugin's own fixtures."""

from __future__ import annotations

import os
import re
from pathlib import Path

from devicelab.handset import Handset
from devicelab.lab.lab import Lab
from devicelab.model.builds import load_build
from devicelab.model.sims import load_sim


def test_shell_keeps_stdout_stderr_and_exit_code_apart(handset: Handset) -> None:
    result = handset.shell("echo out; echo err >&2; exit 3")
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 3)


def test_serial_is_the_phones_own_not_the_adb_address(handset: Handset) -> None:
    assert handset.serial == handset.getprop("ro.serialno")
    assert handset.serial != handset.adb.adb_serial


def test_identity_read_from_the_handset_matches_what_the_lab_gave_it(handset: Handset) -> None:
    handset.insert_sim(handset.entry.sim)  # an earlier test may have left another SIM in the slot
    identity = handset.identity()
    known = handset.entry.known
    sim = load_sim(handset.entry.sim or "")
    assert identity.imei == known.imei
    assert len(identity.imei) == 2
    assert identity.iccid == (sim.iccid,)
    assert identity.imsi == (sim.imsi,)
    assert identity.msisdn == (sim.msisdn,)
    assert identity.cell_id == (str(sim.cell.eci),)
    assert identity.serial == (handset.serial,)
    assert identity.wifi_mac == (known.wifi_mac,)
    assert identity.bt_mac == (known.bt_mac,)
    assert re.fullmatch(r"[0-9a-f]{16}", identity.android_id[0])
    assert identity.fingerprint == handset.fingerprint()
    assert handset.identity_warnings == []


def test_push_and_pull_come_back_identical(handset: Handset, tmp_path: Path) -> None:
    data = os.urandom(1024 * 1024 + 7)
    src, back = tmp_path / "blob.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    handset.adb.push(src, "/data/local/tmp/devicelab/nested/blob.bin")
    handset.adb.pull("/data/local/tmp/devicelab/nested/blob.bin", back)
    assert back.read_bytes() == data


def test_flashing_build_x_boots_build_x(handset: Handset, lab: Lab) -> None:
    leaky, fixed = load_build("nokia7plus-00WW_3_22C"), load_build("nokia7plus-00WW_3_22C_SP05")
    try:
        handset.flash(leaky)
        assert handset.fingerprint() == leaky.fingerprint
        assert "com.qualcomm.qti.autoregistration" in handset.shell("pm list packages").stdout
    finally:
        handset.flash(fixed)
    assert handset.fingerprint() == fixed.fingerprint


def test_factory_reset_starts_android_over(handset: Handset) -> None:
    before = handset.shell("settings get secure android_id").stdout.strip()
    handset.shell("echo keep > /sdcard/Download/note.txt", check=True)
    handset.factory_reset()
    after = handset.shell("settings get secure android_id").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{16}", after)
    assert after != before
    assert handset.shell("ls /sdcard/Download/note.txt").exit_code != 0


def test_the_location_geofence_follows_the_inserted_sim(handset: Handset) -> None:
    # audit: the fence came from the lab's SIM, so a gate with --sim china-telecom searched near Oslo
    china = load_sim("china-telecom")
    assert handset.entry.sim != china.name
    try:
        handset.insert_sim(china)
        identity = handset.identity()
        assert identity.location is not None
        assert (identity.location.lat, identity.location.lon) == (china.cell.location.lat, china.cell.location.lon)
        assert identity.iccid == (china.iccid,)
        assert handset.identity_warnings == []  # the inserted SIM is the one expected, not the lab's
    finally:
        handset.insert_sim(handset.entry.sim)
