"""What a handset is: the identifiers a privacy test looks for in its traffic.

An identity file (YAML or JSON) uses the attribute names below as keys. Each identifier takes
one string or a list of strings; identifiers must be quoted strings in YAML (an unquoted
number loses leading zeros, or turns octal). `handset.identity()` returns this same type.

    imei: ["490154203237518", "490154203237526"]
    iccid: "89470800371104527180"
    wifi_mac: "8c:45:00:12:34:56"
    location: {lat: 59.9127, lon: 10.7461, radius_m: 2000}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final

from pydantic import AfterValidator, BeforeValidator, Field, StrictStr

from devicelab.model.data import Frozen, load
from devicelab.model.secret import RedactedRepr

#: Identifier kinds, named like the identity-file keys. Findings use these names, plus "location".
IDENTIFIER_KINDS: Final = (
    "imei", "meid", "imsi", "iccid", "msisdn", "serial", "wifi_mac", "bt_mac",
    "android_id", "advertising_id", "email", "cell_id",
)
LOCATION_KIND: Final = "location"
ALL_KINDS: Final = (*IDENTIFIER_KINDS, LOCATION_KIND)


def _as_list(value: Any) -> Any:
    """One string stands for a list of one; other shapes are left for pydantic to refuse."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write identifiers as quoted strings (a bare number loses leading zeros)")
    return value


def _pattern(regex: str, expected: str) -> Callable[[str], str]:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        value = value.strip()
        if not compiled.fullmatch(value):
            raise ValueError(f"expected {expected}")
        return value

    return check


def _check(regex: str, expected: str) -> AfterValidator:
    return AfterValidator(_pattern(regex, expected))


_HEX2 = "[0-9A-Fa-f]{2}"
_UUID = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_AsList = BeforeValidator(_as_list)

Imeis = Annotated[
    tuple[Annotated[StrictStr, _check(r"\d{14,16}", "14-16 digits (IMEI, without check digit, or IMEISV)")], ...],
    _AsList,
]
Meids = Annotated[
    tuple[Annotated[StrictStr, _check(r"[0-9A-Fa-f]{14}|\d{18}", "14 hex digits or 18 decimal digits")], ...],
    _AsList,
]
Imsis = Annotated[tuple[Annotated[StrictStr, _check(r"\d{6,15}", "6-15 digits (MCC+MNC+MSIN)")], ...], _AsList]
Iccids = Annotated[
    tuple[Annotated[StrictStr, _check(r"\d{17,22}[0-9A-Fa-f]?", "17-22 digits, optionally a trailing F")], ...],
    _AsList,
]
Msisdns = Annotated[
    tuple[Annotated[StrictStr, _check(r"\+?[0-9][0-9 ()-]{4,22}", "a phone number: E.164 (+4791234567) or national")],
          ...],
    _AsList,
]
Serials = Annotated[
    tuple[Annotated[StrictStr, _check(r"[A-Za-z0-9._-]{4,64}", "4-64 letters, digits, '.', '_' or '-'")], ...],
    _AsList,
]
Macs = Annotated[
    tuple[Annotated[StrictStr, _check(rf"{_HEX2}(?:[:-]?{_HEX2}){{5}}", "a MAC such as aa:bb:cc:dd:ee:ff")], ...],
    _AsList,
]
AndroidIds = Annotated[tuple[Annotated[StrictStr, _check(r"[0-9A-Fa-f]{1,16}", "up to 16 hex digits")], ...], _AsList]
AdIds = Annotated[tuple[Annotated[StrictStr, _check(_UUID, "a UUID")], ...], _AsList]
Emails = Annotated[tuple[Annotated[StrictStr, _check(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address")], ...], _AsList]
CellIds = Annotated[
    tuple[Annotated[StrictStr, _check(r"\d{1,12}", "a decimal cell identity (LTE ECI, GSM/UMTS CID)")], ...],
    _AsList,
]


class GeoFence(Frozen):
    """Where the handset is: a position found within `radius_m` of it is a location finding."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0, le=100_000)


class Identity(RedactedRepr, Frozen):
    """The identifiers of one handset (and its SIMs); attribute names are the identity-file keys.
    Its repr shows them redacted (they end up in tracebacks and logs)."""

    REDACTED: ClassVar[frozenset[str]] = frozenset(IDENTIFIER_KINDS)

    imei: Imeis = ()
    meid: Meids = ()
    imsi: Imsis = ()
    iccid: Iccids = ()
    msisdn: Msisdns = ()
    serial: Serials = ()
    wifi_mac: Macs = ()
    bt_mac: Macs = ()
    android_id: AndroidIds = ()
    advertising_id: AdIds = ()
    email: Emails = ()
    cell_id: CellIds = ()
    location: GeoFence | None = None
    fingerprint: str | None = None
    operator: str | None = None

    def identifiers(self) -> Iterator[tuple[str, str]]:
        """Every (kind, value) pair, in the order of IDENTIFIER_KINDS."""
        for kind in IDENTIFIER_KINDS:
            values: tuple[str, ...] = getattr(self, kind)
            for value in values:
                yield kind, value

    def missing_kinds(self) -> tuple[str, ...]:
        """The kinds (of ALL_KINDS) this identity gives no value for: never searched in traffic."""
        missing = [kind for kind in IDENTIFIER_KINDS if not getattr(self, kind)]
        return (*missing, LOCATION_KIND) if self.location is None else tuple(missing)

    def is_empty(self) -> bool:
        return self.location is None and next(self.identifiers(), None) is None


def load_identity(path: Path) -> Identity:
    """Read an identity file (YAML or JSON); the first bad field raises ConfigError naming it."""
    return load(Identity, path)
