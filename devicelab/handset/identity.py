"""Reading a handset's identifiers from the handset itself, before a capture, and checking them
against what the lab knows. What the handset reports is what its traffic would carry; a mismatch
with the inventory is a warning in the report, not a reason to trust the inventory instead."""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devicelab.android import iphonesubinfo
from devicelab.model.identity import GeoFence, Identity

if TYPE_CHECKING:
    from devicelab.handset import Handset

log = logging.getLogger(__name__)

CELL_ID = re.compile(r"CellIdentityLte:\{[^}]*?\bmCi=(\d+)")
ACCOUNT = re.compile(r"Account \{name=([^,\s]+@[^,\s]+), type=com\.google\}")
MAC = re.compile(r"^(?:[0-9a-f]{2}:){5}[0-9a-f]{2}$")
PLACEHOLDER_MAC = "02:00:00:00:00:00"
#: radius around the serving cell's site within which a reported position is the handset's
LOCATION_RADIUS_M = 5000.0


@dataclass
class IdentityReading:
    identity: Identity
    warnings: list[str] = field(default_factory=list)


def read_identity(handset: Handset) -> IdentityReading:
    warnings: list[str] = []
    sdk = int(handset.getprop("ro.build.version.sdk") or "28")

    def subinfo(method: str, *args: int) -> str:
        argv = iphonesubinfo.service_call_argv(method, *args, sdk=sdk)
        argv += ["s16", "com.android.shell"]
        result = handset.shell(shlex.join(argv))
        try:
            return iphonesubinfo.parse_parcel_string(result.stdout)
        except iphonesubinfo.ParcelError as exc:
            warnings.append(f"{method}: {exc}")
            return ""

    imeis = [v for v in (subinfo("getDeviceIdForPhone", slot) for slot in (0, 1)) if v]
    imsi, iccid, msisdn = subinfo("getSubscriberId"), subinfo("getIccSerialNumber"), subinfo("getLine1Number")
    wifi_mac = handset.shell("cat /sys/class/net/wlan0/address").stdout.strip().lower()
    bt_mac = handset.shell("settings get secure bluetooth_address").stdout.strip().lower()
    android_id = handset.shell("settings get secure android_id").stdout.strip()
    registry = handset.shell("dumpsys telephony.registry").stdout
    cell = CELL_ID.search(registry)
    accounts = ACCOUNT.findall(handset.shell("dumpsys account").stdout)
    location = None
    inserted = handset.inserted_sim()  # the SIM in the slot now (`--sim`), not the lab's default
    if inserted is not None:
        site = inserted.cell.location
        location = GeoFence(lat=site.lat, lon=site.lon, radius_m=LOCATION_RADIUS_M)
    identity = Identity(
        imei=tuple(imeis),
        imsi=(imsi,) if imsi else (),
        iccid=(iccid,) if iccid else (),
        msisdn=(msisdn,) if msisdn else (),
        serial=(handset.serial,),
        wifi_mac=(wifi_mac,) if MAC.match(wifi_mac) and wifi_mac != PLACEHOLDER_MAC else (),
        bt_mac=(bt_mac,) if MAC.match(bt_mac) else (),
        android_id=(android_id,) if re.fullmatch(r"[0-9a-f]{1,16}", android_id) else (),
        email=tuple(accounts),
        cell_id=(cell.group(1),) if cell else (),
        location=location,
        fingerprint=handset.fingerprint(),
        operator=handset.getprop("gsm.sim.operator.alpha") or None,
    )
    warnings += cross_check(handset, identity)
    for warning in warnings:
        log.warning("[%s] identity: %s", handset.serial, warning)
    return IdentityReading(identity, warnings)


def cross_check(handset: Handset, identity: Identity) -> list[str]:
    """Differences between what the handset reports and what the inventory says."""
    known = handset.entry.known
    found: list[str] = []

    def compare(kind: str, expected: tuple[str, ...], actual: tuple[str, ...]) -> None:
        if expected and tuple(v.lower() for v in expected) != tuple(v.lower() for v in actual):
            found.append(f"{kind}: the lab lists {', '.join(expected)} but the handset reports "
                         f"{', '.join(actual) or 'nothing'}")

    compare("imei", known.imei, identity.imei)
    compare("wifi_mac", (known.wifi_mac,) if known.wifi_mac else (), identity.wifi_mac)
    compare("bt_mac", (known.bt_mac,) if known.bt_mac else (), identity.bt_mac)
    sim = handset.inserted_sim()
    if sim is not None:
        compare("iccid", (sim.iccid,), identity.iccid)
        compare("imsi", (sim.imsi,), identity.imsi)
    return found
