"""Is a value read off a handset plausibly the identifier it claims to be? One check per kind.

A value that fails is not searched for (it would find nothing, or the wrong thing) and the gate
counts it as an `identity_implausible` gap: the search for that kind is not proven.
"""

from __future__ import annotations

import re

#: MACs that stand for "no MAC": Android's placeholder for apps without the permission, and blanks
PLACEHOLDER_MACS = frozenset({"02:00:00:00:00:00", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})
_MAC = re.compile(r"^(?:[0-9a-f]{2}:){5}[0-9a-f]{2}$")


def luhn_ok(digits: str) -> bool:
    """The Luhn check digit (IMEI, ICCID) is right."""
    if not digits.isdecimal():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def implausible(kind: str, value: str, *, mccmnc: str = "") -> str | None:
    """Why `value` cannot be a `kind` (None: plausible). `mccmnc`: the SIM's, for IMSI."""
    value = value.strip()
    if not value:
        return "empty"
    check = _CHECKS.get(kind)
    return check(value, mccmnc) if check is not None else None


def _imei(value: str, _: str) -> str | None:
    if not re.fullmatch(r"\d{15}", value):
        return "not 15 digits"
    if len(set(value)) == 1:
        return "one digit repeated (a placeholder)"
    return None if luhn_ok(value) else "bad Luhn check digit"


def _meid(value: str, _: str) -> str | None:
    if not re.fullmatch(r"[0-9A-Fa-f]{14}", value):
        return "not 14 hex digits"
    return "all zeros" if set(value) == {"0"} else None


def _imsi(value: str, mccmnc: str) -> str | None:
    if not re.fullmatch(r"\d{6,15}", value):
        return "not 6-15 digits"
    if mccmnc and not value.startswith(mccmnc):
        return f"its MCC/MNC {value[:len(mccmnc)]} is not the SIM's {mccmnc}"
    return None


def _iccid(value: str, _: str) -> str | None:
    digits = value[:-1] if value[-1:] in "Ff" else value
    if not re.fullmatch(r"89\d{16,20}", digits):
        return "does not start with 89 followed by 16-20 digits"
    return None if luhn_ok(digits) else "bad Luhn check digit"


def _mac(value: str, _: str) -> str | None:
    mac = value.lower().replace("-", ":")
    if not _MAC.match(mac):
        return "not a MAC (aa:bb:cc:dd:ee:ff)"
    return "a placeholder, not the hardware address" if mac in PLACEHOLDER_MACS else None


def _android_id(value: str, _: str) -> str | None:
    if not re.fullmatch(r"[0-9a-f]{16}", value):
        return "not 16 lower-case hex digits"
    return "all zeros" if set(value) == {"0"} else None


def _msisdn(value: str, _: str) -> str | None:
    return None if re.fullmatch(r"\+?\d{5,15}", value) else "not a phone number (5-15 digits)"


def _cell_id(value: str, _: str) -> str | None:
    if not value.isdecimal() or int(value) == 0:
        return "not a positive decimal cell identity"
    return None if int(value) < 1 << 36 else "larger than any cell identity (NR: 36 bits)"


def _serial(value: str, _: str) -> str | None:
    if value.lower() in ("unknown", "0123456789abcdef", "0"):
        return "a placeholder serial"
    return None


_CHECKS = {"imei": _imei, "meid": _meid, "imsi": _imsi, "iccid": _iccid, "wifi_mac": _mac, "bt_mac": _mac,
           "android_id": _android_id, "msisdn": _msisdn, "cell_id": _cell_id, "serial": _serial}
