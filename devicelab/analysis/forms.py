"""Every form an identifier can travel in, as byte needles for the matcher.

An identifier is first spelled in its textual variants (separators, case, check digit, national
or international number), then each variant is encoded: plain, URL-encoded, Base64 at the three
alignments it can have inside a larger Base64 stream, Base32 at its five, Base58 of the whole
value, hex of the ASCII, UTF-16LE, and MD5/SHA-1/SHA-256 digests (hex, Base64, raw). Line-broken
Base64 and everything nested is left to the decoders, which hand the matcher decoded bytes.

Identifiers that are numbers or bytes also travel as binary (`numeric`): IMEI and IMSI as int64
(big and little endian), protobuf varint, BCD and swapped-nibble TBCD, the TS 24.008 mobile
identity and EF_IMSI (TS 31.102); the ICCID as EF_ICCID (TS 102 221, TBCD); the MSISDN as TBCD
(as after a TON/NPI octet), int64 and varint; the Android ID as int64 and varint; the
advertising ID as its 16 UUID bytes (raw, Base64, Base58); MAC addresses as their 6 bytes.
A varint only counts where no varint byte runs into it (the "varint" boundary).
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

import phonenumbers

from devicelab.analysis.numeric import base32_stable, base58, bcd, int64, mobile_identity, varint
from devicelab.model.identity import Identity
from devicelab.model.policy import DERIVED_KIND

#: Where a needle may not continue: "digit"/"alnum" on both sides; "varint": no continuation byte
#: (0x80 set) before it; "token": no letter or digit before it (a geohash cell goes on with finer digits).
Boundary = Literal["", "digit", "alnum", "varint", "token"]

#: Plain needles shorter than this match too much by chance; such identifiers are reported as skipped.
MIN_NEEDLE = 6
#: A Base64 needle must carry at least 48 bits.
MIN_BASE64_NEEDLE = 8
HASHES = ("md5", "sha1", "sha256")


@dataclass(frozen=True, slots=True)
class Variant:
    """One way of writing an identifier as text."""

    name: str
    text: str
    caseless: bool
    boundary: Boundary = ""


@dataclass(frozen=True, slots=True)
class Form:
    """A needle, and how it was derived from which identifier."""

    kind: str
    identifier: str
    variant: str
    encoding: tuple[str, ...]
    needle: bytes
    caseless: bool
    boundary: Boundary = ""


@dataclass(frozen=True, slots=True)
class Skipped:
    """An identifier (or a variant) too short to search for without false positives."""

    kind: str
    identifier: str
    reason: str


@dataclass(frozen=True)
class Needles:
    forms: tuple[Form, ...]
    skipped: tuple[Skipped, ...] = field(default=())


def luhn_digit(digits: str) -> str:
    """The Luhn check digit for a string of decimal digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _cases(name: str, text: str, boundary: Boundary = "") -> list[Variant]:
    """Lower and upper case of a case-insensitive identifier (Base64 and hashes see the difference)."""
    out = [Variant(name, text.lower(), True, boundary)]
    if text.upper() != text.lower():
        out.append(Variant(f"{name}-upper", text.upper(), True, boundary))
    return out


def _imei(value: str) -> list[Variant]:
    out = [Variant("as-is", value, False)]
    if len(value) == 15:
        out.append(Variant("no-check-digit", value[:14], False))
    elif len(value) == 14:
        out.append(Variant("with-check-digit", value + luhn_digit(value), False))
    return out


def _meid(value: str) -> list[Variant]:
    if len(value) == 18:  # decimal form: 10 digits of manufacturer code, 8 of serial
        out = [Variant("decimal", value, False)]
        maker, serial = int(value[:10]), int(value[10:])
        if maker < 2**32 and serial < 2**24:
            out += _cases("hex", f"{maker:08x}{serial:06x}")
        return out
    out = _cases("hex", value)
    out.append(Variant("decimal", f"{int(value[:8], 16):010d}{int(value[8:], 16):08d}", False))
    return out


def _iccid(value: str) -> list[Variant]:
    out = [Variant("as-is", value, True)]
    if value[-1].isdigit():
        out.append(Variant("trailing-F", value + "F", True))
        if len(value) >= 19:
            out.append(Variant("no-check-digit", value[:-1], False))
    else:
        out.append(Variant("no-padding", value[:-1], False))
    return out


def _msisdn(value: str) -> list[Variant]:
    digits = re.sub(r"[^0-9+]", "", value)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits.startswith("+"):
        return [Variant("as-is", digits, False, "digit")]
    try:
        number = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException:
        return [Variant("as-is", digits, False, "digit")]
    cc, nsn = str(number.country_code), phonenumbers.national_significant_number(number)
    national = re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    out = [
        Variant("e164", f"+{cc}{nsn}", False, "digit"),
        Variant("international", f"{cc}{nsn}", False, "digit"),
        Variant("00-prefix", f"00{cc}{nsn}", False, "digit"),
        Variant("national", nsn, False, "digit"),
    ]
    if national != nsn:
        out.append(Variant("national-trunk", national, False, "digit"))
    return out


def _serial(value: str) -> list[Variant]:
    boundary: Boundary = "alnum" if len(value) < 10 else ""
    out = [Variant("as-is", value, True, boundary)]
    out += [v for v in _cases("as-is", value, boundary) if v.text != value]
    return out


def _mac(value: str) -> list[Variant]:
    hex12 = re.sub(r"[^0-9A-Fa-f]", "", value).lower()
    pairs = [hex12[i:i + 2] for i in range(0, 12, 2)]
    return [*_cases("colon", ":".join(pairs)), *_cases("dash", "-".join(pairs)), *_cases("no-separators", hex12)]


def _android_id(value: str) -> list[Variant]:
    number = int(value, 16)
    out = _cases("hex", f"{number:016x}")
    if f"{number:x}" != f"{number:016x}":
        out += _cases("no-leading-zeros", f"{number:x}")
    out.append(Variant("decimal", str(number), False, "digit"))
    if number >= 2**63:
        out.append(Variant("decimal-signed", str(number - 2**64), False, "digit"))
    return out


def _advertising_id(value: str) -> list[Variant]:
    return [*_cases("uuid", value), *_cases("no-dashes", value.replace("-", ""))]


def _email(value: str) -> list[Variant]:
    out = [Variant("as-is", value, True)]
    if value.lower() != value:
        out.append(Variant("lower", value.lower(), True))
    return out


def _cell_id(value: str) -> list[Variant]:
    number = int(value)
    out = [Variant("decimal", str(number), False, "digit")]
    if 2**16 <= number < 2**28:  # an LTE ECI (a GSM CID fits 16 bits): eNB id (20 bits) and cell (8 bits)
        enb, cell = number >> 8, number & 0xFF
        out += [Variant(f"enb{sep}cell", f"{enb}{sep}{cell}", False, "digit") for sep in "-/:_"]
        out += _cases("hex", f"{number:x}", "alnum")
        out += _cases("hex-8", f"{number:08x}", "alnum")
    return out


_VARIANTS: dict[str, Callable[[str], list[Variant]]] = {
    "imei": _imei, "meid": _meid, "imsi": lambda v: [Variant("as-is", v, False)], "iccid": _iccid,
    "msisdn": _msisdn, "serial": _serial, "wifi_mac": _mac, "bt_mac": _mac, "android_id": _android_id,
    "advertising_id": _advertising_id, "email": _email, "cell_id": _cell_id,
    # a value a differential run found following the identity: redacted as sent, whatever it is
    DERIVED_KIND: lambda v: [Variant("as-is", v, False)],
}


def variants(kind: str, value: str) -> list[Variant]:
    """The textual variants of one identifier."""
    return _VARIANTS[kind](value)


def base64_stable(data: bytes, offset: int, alphabet: bytes | None = None) -> bytes:
    """The Base64 characters that encode only `data` when it starts `offset` (0-2) bytes into a stream.

    A character covers 6 bits; it is stable when all of them come from `data`, whatever bytes
    surround it.
    """
    encoded = base64.b64encode(b"\0" * offset + data + b"\0\0", altchars=alphabet)
    first = -(-8 * offset // 6)
    last = (8 * offset + 8 * len(data)) // 6
    return encoded[first:last]


def _encodings(variant: Variant) -> Iterator[tuple[tuple[str, ...], bytes, bool, Boundary]]:
    """(encoding steps, needle, caseless, boundary) for one textual variant."""
    raw = variant.text.encode("utf-8")
    yield (), raw, variant.caseless, variant.boundary
    once = quote(variant.text, safe="")
    if once != variant.text:
        yield ("urlencode",), once.encode(), True, variant.boundary
        twice = quote(once, safe="")
        yield ("urlencode", "urlencode"), twice.encode(), True, variant.boundary
    for offset in range(3):
        std = base64_stable(raw, offset)
        yield (f"base64@{offset}",), std, False, ""
        url = base64_stable(raw, offset, b"-_")
        if url != std:
            yield (f"base64url@{offset}",), url, False, ""
    for offset in range(5):
        yield (f"base32@{offset}",), base32_stable(raw, offset), True, ""
    yield ("base58",), base58(raw), False, ""
    yield ("hex",), raw.hex().encode(), True, ""
    yield ("utf-16le",), variant.text.encode("utf-16-le"), variant.caseless, ""
    for algo in HASHES:
        digest = hashlib.new(algo, raw).digest()
        yield (f"{algo}-hex",), digest.hex().encode(), True, ""
        std = base64_stable(digest, 0)
        yield (f"{algo}-base64",), std, False, ""
        url = base64_stable(digest, 0, b"-_")
        if url != std:
            yield (f"{algo}-base64url",), url, False, ""
        yield (f"{algo}-raw",), digest, False, ""


def _numbers(kind: str, value: str, spelled: list[Variant]) -> Iterator[tuple[str, tuple[str, ...], bytes, Boundary]]:
    """(variant, encoding, needle, boundary) of the binary forms of one identifier."""
    digits = [v for v in spelled if v.text.isdigit()]
    if kind in ("imei", "imsi"):
        for variant in digits:
            number = int(variant.text)
            yield variant.name, ("int64-be",), int64(number, ">"), ""
            yield variant.name, ("int64-le",), int64(number, "<"), ""
            yield variant.name, ("varint",), varint(number), "varint"
            yield variant.name, ("bcd",), bcd(variant.text), ""
            yield variant.name, ("tbcd",), bcd(variant.text, swapped=True), ""
            if kind == "imei" and len(variant.text) == 15:
                yield variant.name, ("mobile-identity",), mobile_identity(variant.text, 2), ""
            if kind == "imsi":  # the length octet, then the TS 24.008 IMSI identity
                yield variant.name, ("ef-imsi",), bytes([8]) + mobile_identity(variant.text, 1), ""
    elif kind == "iccid":
        for variant in digits:
            if len(variant.text) >= 19:
                yield variant.name, ("ef-iccid",), bcd(variant.text, swapped=True), ""
                yield variant.name, ("bcd",), bcd(variant.text), ""
    elif kind == "msisdn":
        for variant in (v for v in spelled if v.name == "international"):
            number = int(variant.text)
            yield variant.name, ("tbcd",), bcd(variant.text, swapped=True), ""  # also after a TON/NPI octet
            yield variant.name, ("int64-be",), int64(number, ">"), ""
            yield variant.name, ("int64-le",), int64(number, "<"), ""
            yield variant.name, ("varint",), varint(number), "varint"
    elif kind == "android_id":
        number = int(value, 16)
        yield "hex", ("int64-be",), int64(number, ">"), ""
        yield "hex", ("int64-le",), int64(number, "<"), ""
        yield "hex", ("varint",), varint(number), "varint"
    elif kind == "advertising_id":
        raw = uuid.UUID(value).bytes
        yield "uuid", ("raw",), raw, ""
        for offset in range(3):
            std = base64_stable(raw, offset)
            yield "uuid", ("raw", f"base64@{offset}"), std, ""
            url = base64_stable(raw, offset, b"-_")
            if url != std:
                yield "uuid", ("raw", f"base64url@{offset}"), url, ""
        yield "uuid", ("raw", "base58"), base58(raw), ""
    elif kind in ("wifi_mac", "bt_mac"):
        yield "no-separators", ("raw",), bytes.fromhex(re.sub(r"[^0-9A-Fa-f]", "", value)), ""


def forms_for(kind: str, value: str) -> tuple[list[Form], list[Skipped]]:
    """Every form of one identifier, without duplicate needles."""
    forms: list[Form] = []
    skipped: list[Skipped] = []
    seen: set[tuple[bytes, bool]] = set()

    def add(variant: str, encoding: tuple[str, ...], needle: bytes, caseless: bool, boundary: Boundary) -> None:
        key = (needle.lower() if caseless else needle, caseless)
        if key not in seen:
            seen.add(key)
            forms.append(Form(kind, value, variant, encoding, needle, caseless, boundary))

    spelled = variants(kind, value)
    for variant in spelled:
        if len(variant.text) < MIN_NEEDLE:
            skipped.append(Skipped(kind, value, f"{variant.name} form {variant.text!r} is too short to search for"))
            continue
        for encoding, needle, caseless, boundary in _encodings(variant):
            if encoding and encoding[0].startswith(("base64", "base32")) and len(needle) < MIN_BASE64_NEEDLE:
                continue
            add(variant.name, encoding, needle, caseless, boundary)
    for name, encoding, needle, boundary in _numbers(kind, value, [v for v in spelled if len(v.text) >= MIN_NEEDLE]):
        add(name, encoding, needle, False, boundary)
    return forms, skipped


def build_needles(identity: Identity | Iterable[tuple[str, str]]) -> Needles:
    """All forms of every identifier of an identity (or of explicit (kind, value) pairs)."""
    pairs = identity.identifiers() if isinstance(identity, Identity) else identity
    forms: list[Form] = []
    skipped: list[Skipped] = []
    for kind, value in pairs:
        more, skip = forms_for(kind, value)
        forms += more
        skipped += skip
    return Needles(tuple(forms), tuple(skipped))
