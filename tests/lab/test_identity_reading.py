"""Identity you can trust: per-kind plausibility, the union with what the lab knows, unread kinds as
counted gaps, and an Android release the reader does not know as a gap rather than a crash."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

import pytest

from devicelab.adb import ShellResult
from devicelab.android import iphonesubinfo
from devicelab.handset.identity import read_identity
from devicelab.model.inventory import AdbAddress, HandsetEntry, KnownIdentity
from devicelab.model.plausible import implausible, luhn_ok
from devicelab.model.sims import SimProfile, load_sim
from devicelab.virtual.binder import format_parcel, string_reply

IMEI1, IMEI2 = "490154203237518", "356938035643809"
SIM = load_sim("telenor-no")


@pytest.mark.parametrize(("kind", "value", "mccmnc", "bad"), [
    ("imei", IMEI1, "", None),
    ("imei", "490154203237519", "", "Luhn"),
    ("imei", "49015420323751", "", "15 digits"),
    ("imei", "000000000000000", "", "placeholder"),
    ("meid", "A0000012345678", "", None),
    ("meid", "A00000123456", "", "14 hex"),
    ("imsi", SIM.imsi, SIM.mccmnc, None),
    ("imsi", "240011234567890", SIM.mccmnc, "not the SIM's 24201"),
    ("iccid", SIM.iccid, "", None),
    ("iccid", "8947080037110452718", "", "Luhn"),
    ("iccid", "1947080037110452710", "", "89"),
    ("wifi_mac", "8c:45:00:12:34:56", "", None),
    ("wifi_mac", "02:00:00:00:00:00", "", "placeholder"),
    ("bt_mac", "00:00:00:00:00:00", "", "placeholder"),
    ("android_id", "9774d56d682e549c", "", None),
    ("android_id", "9774d56d682e549", "", "16"),
    ("android_id", "0000000000000000", "", "zeros"),
    ("cell_id", "0", "", "positive"),
    ("serial", "unknown", "", "placeholder"),
])
def test_each_kind_has_a_plausibility_check(kind: str, value: str, mccmnc: str, bad: str | None) -> None:
    reason = implausible(kind, value, mccmnc=mccmnc)
    if bad is None:
        assert reason is None
    else:
        assert reason is not None
        assert bad in reason


def test_luhn() -> None:
    assert luhn_ok(IMEI1)
    assert not luhn_ok(IMEI1[:-1] + "9")
    assert not luhn_ok("12a4")


@dataclass
class FakeHandset:
    """Answers what read_identity asks, as a Nokia on API `sdk` would (values overridable)."""

    sdk: str = "28"
    imeis: tuple[str, ...] = (IMEI1, IMEI2)
    imsi: str = SIM.imsi
    iccid: str = SIM.iccid
    sim: str | None = "telenor-no"
    known: KnownIdentity = field(default_factory=KnownIdentity)
    wifi_mac: str = "8c:45:00:12:34:56"
    serial: str = "B2N1GF81234567"
    props: dict[str, str] = field(default_factory=dict)

    def inserted_sim(self) -> SimProfile | None:
        """The SIM in the slot (the real Handset tracks what it inserted)."""
        return SIM if self.sim else None

    @property
    def entry(self) -> HandsetEntry:
        return HandsetEntry(id="b2n-01", serialno=self.serial, adb=AdbAddress(serial=self.serial),
                            fastboot="tcp:127.0.0.1:1", model="Nokia 7 plus", sim=self.sim, known=self.known)

    def getprop(self, name: str) -> str:
        return {"ro.build.version.sdk": self.sdk, **self.props}.get(name, "")

    def sim_state(self) -> tuple[str, str]:
        return ("READY", SIM.mccmnc) if self.sim else ("ABSENT", "")

    def fingerprint(self) -> str:
        return "Nokia/Onyx_00WW/B2N_sprout:9/PPR1.180610.011/00WW_3_22C:user/release-keys"

    def shell(self, command: str, **_: Any) -> ShellResult:
        argv = shlex.split(command)
        out = ""
        if argv[:3] == ["service", "call", "iphonesubinfo"]:
            method = iphonesubinfo.method_name(int(argv[3]), int(self.sdk))
            slot = int(argv[5]) if argv[4:5] == ["i32"] else 0
            value = {"getDeviceIdForPhone": dict(enumerate(self.imeis)).get(slot),
                     "getSubscriberId": self.imsi, "getIccSerialNumber": self.iccid}.get(method or "")
            out = format_parcel(string_reply(value))
        elif command == "cat /sys/class/net/wlan0/address":
            out = self.wifi_mac + "\n"
        elif command == "settings get secure android_id":
            out = "9774d56d682e549c\n"
        return ShellResult(command=command, exit_code=0, stdout=out, stderr="")


def _read(handset: FakeHandset) -> Any:
    return read_identity(handset)  # type: ignore[arg-type]


def test_a_clean_handset_reads_every_kind_without_a_warning_or_gap() -> None:
    reading = _read(FakeHandset())
    assert reading.gaps == []
    assert reading.warnings == []
    assert reading.identity.imei == (IMEI1, IMEI2)
    assert reading.identity.iccid == (SIM.iccid,)


def test_the_needles_are_the_union_of_handset_and_lab_and_a_mismatch_is_a_warning() -> None:
    lab_imei, lab_mac = "353918051234561", "8c:45:00:ab:cd:ef"
    reading = _read(FakeHandset(known=KnownIdentity(imei=(lab_imei,), wifi_mac=lab_mac)))
    assert set(reading.identity.imei) == {IMEI1, IMEI2, lab_imei}
    assert set(reading.identity.wifi_mac) == {"8c:45:00:12:34:56", lab_mac}
    assert any(w.startswith("imei: the lab lists") for w in reading.warnings)
    assert any(w.startswith("wifi_mac: the lab lists") for w in reading.warnings)
    assert reading.gaps == []


def test_an_implausible_value_is_not_searched_and_is_a_gap() -> None:
    reading = _read(FakeHandset(imeis=("490154203237519",), imsi="240011234567890"))
    kinds = {(g.kind, g.detail.split(":")[0]) for g in reading.gaps}
    assert ("identity_implausible", "imei") in kinds
    assert ("identity_implausible", "imsi") in kinds
    assert reading.identity.imei == ()
    assert ("identity_unread", "imei") in kinds  # nothing left to search for the kind
    assert reading.identity.imsi == (SIM.imsi,)  # the SIM profile's value stands in, with a warning


def test_a_kind_the_handset_should_have_but_could_not_read_is_an_identity_unread_gap() -> None:
    reading = _read(FakeHandset(imeis=(), iccid="", sim="telenor-no"))
    unread = {g.detail.split(":")[0] for g in reading.gaps if g.kind == "identity_unread"}
    assert unread == {"imei"}  # the ICCID comes from the lab's SIM profile
    assert any(w.startswith("iccid: not read from the handset") for w in reading.warnings)
    no_sim_known = _read(FakeHandset(imeis=(), iccid="", sim=None))
    assert {g.detail.split(":")[0] for g in no_sim_known.gaps} == {"imei"}


@pytest.mark.parametrize("sdk", ["30", "33", "35"])
def test_newer_android_reads_from_the_lab_and_names_why(sdk: str) -> None:
    reading = _read(FakeHandset(sdk=sdk, known=KnownIdentity(imei=(IMEI1,))))
    assert reading.identity.imei == (IMEI1,)
    assert reading.gaps == []
    assert any("READ_PRIVILEGED_PHONE_STATE" in w for w in reading.warnings)
    bare = _read(FakeHandset(sdk=sdk))
    assert [(g.kind, g.detail.split(":")[0]) for g in bare.gaps] == [("identity_unread", "imei")]


@pytest.mark.parametrize("sdk", ["17", "36", "99", "", "Q"])
def test_an_android_release_the_reader_does_not_know_is_a_gap_never_a_crash(sdk: str) -> None:
    reading = _read(FakeHandset(sdk=sdk))
    (gap,) = [g for g in reading.gaps if g.kind == "identity_unread"]
    assert gap.detail.startswith("imei: ")
    assert "API level" in gap.detail or "ro.build.version.sdk" in gap.detail
