"""Reading a handset's identifiers from the handset itself, before a capture, and checking them.

The needles a capture is searched for are the union of what the handset reports and what the lab
knows (the inventory's `known` block and the inserted SIM's profile): a value the handset hides or
misreports is still searched. Everything that weakens the search is said, never only logged:

- a mismatch between the handset and the lab is a warning in every report (both values searched);
- a kind the handset should have but that could not be read, from the handset or the lab, is an
  `identity_unread` gap naming the kind and the reason (IMEI on a phone; IMSI and ICCID with a SIM);
- a value that fails its kind's plausibility check (model/plausible.py) is not searched and is an
  `identity_implausible` gap;
- an Android release without an IPhoneSubInfo table is an unread IMEI/IMSI/ICCID, never a crash.

Read path per release: API 22-29 `service call iphonesubinfo` with the codes of
android/iphonesubinfo.py. From API 30 the shell cannot read them at all (Android 10 restricted
non-resettable identifiers to READ_PRIVILEGED_PHONE_STATE, which the shell user does not hold), so
they come from the lab: list the IMEIs in the inventory, and the SIM profile gives IMSI and ICCID.
"""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devicelab.android import iphonesubinfo
from devicelab.errors import DevicelabError
from devicelab.model.identity import GeoFence, Identity
from devicelab.model.plausible import implausible
from devicelab.model.sims import SimProfile, load_sim
from devicelab.model.traffic import CoverageGap

if TYPE_CHECKING:
    from devicelab.handset import Handset

log = logging.getLogger(__name__)

CELL_ID = re.compile(r"CellIdentityLte:\{[^}]*?\bmCi=(\d+)")
ACCOUNT = re.compile(r"Account \{name=([^,\s]+@[^,\s]+), type=com\.google\}")
#: radius around the serving cell's site within which a reported position is the handset's
LOCATION_RADIUS_M = 5000.0
#: API levels whose IPhoneSubInfo the shell may call (codes in android/iphonesubinfo.py)
SUBINFO_SDKS = range(22, 30)
#: API levels the reader knows: past 29 the identifiers come from the lab (see the module's docstring)
KNOWN_SDKS = range(22, 36)


@dataclass
class IdentityReading:
    identity: Identity
    warnings: list[str] = field(default_factory=list)  # handset vs lab mismatches, and how each was resolved
    gaps: list[CoverageGap] = field(default_factory=list)  # identity_unread / identity_implausible


def _sdk(handset: Handset) -> tuple[int | None, str]:
    raw = handset.getprop("ro.build.version.sdk").strip()
    if not raw.isdecimal():
        return None, f"ro.build.version.sdk is {raw!r}, not an API level"
    sdk = int(raw)
    if sdk not in KNOWN_SDKS:
        return None, f"API level {sdk} is not one devicelab knows ({KNOWN_SDKS.start}-{KNOWN_SDKS.stop - 1})"
    if sdk not in SUBINFO_SDKS:
        return sdk, (f"API level {sdk}: the shell may not read device identifiers "
                     "(READ_PRIVILEGED_PHONE_STATE since Android 10)")
    return sdk, ""


def _sim_in(handset: Handset) -> tuple[bool, str, SimProfile | None]:
    """(a SIM is in, its MCC+MNC as the handset reports it, the lab's profile of that SIM if it knows it)."""
    state, numeric = handset.sim_state()
    if state not in ("READY", "LOADED"):
        return False, "", None
    profile = load_sim(handset.entry.sim) if handset.entry.sim else None
    if profile is not None and profile.mccmnc != numeric:
        profile = None  # another SIM than the lab's is in (a run's --sim): no profile values to add
    return True, numeric, profile


def read_identity(handset: Handset, sim: SimProfile | None = None) -> IdentityReading:
    """What the handset reports, united with what the lab knows. `sim`: the SIM this run inserted
    (its profile's IMSI and ICCID join the needles), when the caller knows it."""
    reading = IdentityReading(Identity())
    sdk, sdk_problem = _sdk(handset)

    def subinfo(method: str, *args: int) -> tuple[str, str]:
        """(value, why it is empty)."""
        if sdk is None or sdk not in SUBINFO_SDKS:
            return "", sdk_problem
        argv = [*iphonesubinfo.service_call_argv(method, *args, sdk=sdk), "s16", "com.android.shell"]
        try:
            result = handset.shell(shlex.join(argv))
            value = iphonesubinfo.parse_parcel_string(result.stdout)
        except (iphonesubinfo.ParcelError, DevicelabError) as exc:
            return "", f"{method}: {exc}"
        return value, "" if value else f"{method} returned nothing"

    sim_in, mccmnc, profile = _sim_in(handset)
    if sim is not None and (not mccmnc or sim.mccmnc == mccmnc):
        profile = sim
    read: dict[str, list[str]] = {}
    why: dict[str, str] = {}

    def take(kind: str, value: str, problem: str = "") -> None:
        value = value.strip()
        if not value:
            why.setdefault(kind, problem or "not reported")
            return
        bad = implausible(kind, value, mccmnc=mccmnc)
        if bad is not None:
            why.setdefault(kind, f"the handset reports an implausible value ({bad})")
            reading.gaps.append(CoverageGap("identity_implausible", f"{kind}: {bad}; not searched"))
            return
        read.setdefault(kind, []).append(value.lower() if kind.endswith("_mac") else value)

    for slot in (0, 1):
        take("imei", *subinfo("getDeviceIdForPhone", slot))
    if sim_in:
        take("imsi", *subinfo("getSubscriberId"))
        take("iccid", *subinfo("getIccSerialNumber"))
        msisdn, _ = subinfo("getLine1Number")
        if msisdn:
            take("msisdn", msisdn)
    take("wifi_mac", handset.shell("cat /sys/class/net/wlan0/address").stdout)
    take("bt_mac", handset.shell("settings get secure bluetooth_address").stdout.replace("null", ""))
    take("android_id", handset.shell("settings get secure android_id").stdout.replace("null", ""))
    take("serial", handset.serial)
    cell = CELL_ID.search(handset.shell("dumpsys telephony.registry").stdout)
    if cell:
        take("cell_id", cell.group(1))
    accounts = ACCOUNT.findall(handset.shell("dumpsys account").stdout)

    known = handset.entry.known
    lab: dict[str, tuple[str, ...]] = {
        "imei": known.imei, "wifi_mac": tuple(v.lower() for v in (known.wifi_mac,) if v),
        "bt_mac": tuple(v.lower() for v in (known.bt_mac,) if v), "serial": (known.serial,) if known.serial else (),
    }
    if profile is not None:
        lab["imsi"], lab["iccid"] = (profile.imsi,), (profile.iccid,)
    needles: dict[str, tuple[str, ...]] = {}
    for kind in sorted({*read, *lab}):
        ours, theirs = tuple(read.get(kind, ())), lab.get(kind, ())
        if ours and theirs and {v.lower() for v in ours} != {v.lower() for v in theirs}:
            reading.warnings.append(f"{kind}: the lab lists {', '.join(theirs)} but the handset reports "
                                    f"{', '.join(ours)}; both are searched")
        elif theirs and not ours:
            reading.warnings.append(f"{kind}: not read from the handset ({why.get(kind, 'not reported')}); "
                                    f"searching the lab's {', '.join(theirs)}")
        needles[kind] = tuple(dict.fromkeys((*ours, *theirs)))

    expected = ["imei"] if handset.getprop("ro.radio.noril").lower() not in ("1", "true", "yes") else []
    expected += ["imsi", "iccid"] if sim_in else []
    for kind in expected:
        if not needles.get(kind):
            reading.gaps.append(CoverageGap("identity_unread", f"{kind}: {why.get(kind, 'not reported')}; "
                                            "its values were not searched"))

    location = None
    inserted = handset.inserted_sim()  # the SIM in the slot now (`--sim`), not the lab's default
    if inserted is not None:
        site = inserted.cell.location
        location = GeoFence(lat=site.lat, lon=site.lon, radius_m=LOCATION_RADIUS_M)
    reading.identity = Identity(
        imei=needles.get("imei", ()), imsi=needles.get("imsi", ()), iccid=needles.get("iccid", ()),
        msisdn=needles.get("msisdn", ()), serial=needles.get("serial", ()), wifi_mac=needles.get("wifi_mac", ()),
        bt_mac=needles.get("bt_mac", ()), android_id=needles.get("android_id", ()), email=tuple(accounts),
        cell_id=needles.get("cell_id", ()), location=location, fingerprint=handset.fingerprint(),
        operator=handset.getprop("gsm.sim.operator.alpha") or None,
    )
    for warning in reading.warnings:
        log.warning("[%s] identity: %s", handset.serial, warning)
    for gap in reading.gaps:
        log.warning("[%s] identity gap: %s: %s", handset.serial, gap.kind, gap.detail)
    return reading


def lab_identity(handset: Handset, sim: SimProfile | None, fingerprint: str, why: str) -> IdentityReading:
    """The identity when the handset cannot be asked (`why`: a retail phone's adb is off): what the
    lab knows, the inventory's `known` block and the SIM's profile. Each kind a phone has that the
    lab does not list is an `identity_unread` gap: its values go unsearched, and the run says so."""
    reading = IdentityReading(Identity())
    known = handset.entry.known
    profile = sim or handset.inserted_sim()
    serials = (handset.serial, *((known.serial,) if known.serial else ()))
    values: dict[str, tuple[str, ...]] = {
        "imei": known.imei, "serial": tuple(dict.fromkeys(serials)),
        "wifi_mac": tuple(v.lower() for v in (known.wifi_mac,) if v),
        "bt_mac": tuple(v.lower() for v in (known.bt_mac,) if v),
        "imsi": (profile.imsi,) if profile is not None else (),
        "iccid": (profile.iccid,) if profile is not None else (),
    }
    for kind in ("imei", *(("imsi", "iccid") if profile is not None else ())):
        if not values[kind]:
            reading.gaps.append(CoverageGap("identity_unread", f"{kind}: {why}, and the lab lists none; its values "
                                            "were not searched"))
    reading.warnings.append(f"identity from the lab only ({why}): the inventory and the SIM profile; the Android ID, "
                            "accounts and cell were not read")
    location = None
    if profile is not None:
        site = profile.cell.location
        location = GeoFence(lat=site.lat, lon=site.lon, radius_m=LOCATION_RADIUS_M)
    reading.identity = Identity(imei=values["imei"], imsi=values["imsi"], iccid=values["iccid"],
                                serial=values["serial"], wifi_mac=values["wifi_mac"], bt_mac=values["bt_mac"],
                                location=location, fingerprint=fingerprint)
    for gap in reading.gaps:
        log.warning("[%s] identity gap: %s: %s", handset.serial, gap.kind, gap.detail)
    return reading
