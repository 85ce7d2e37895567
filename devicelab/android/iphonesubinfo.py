"""`service call iphonesubinfo N`: IPhoneSubInfo's binder transaction codes per Android release,
and a reader for the Parcel dump `service call` prints.

The harness reads IMEI 1/IMEI 2, IMSI, ICCID and the line 1 number this way before a capture;
the virtual handset answers with the same codes.

Codes are FIRST_CALL_TRANSACTION (1) + the method's position in IPhoneSubInfo.aidl:
- Android 5.1-9 (API 22-28): getDeviceId .. getVoiceMailNumberForSubscriber keep positions 1-20
  (generated stubs of L-MR1, M and O builds agree; P appended its new methods after them).
- Android 10 (API 29) dropped getGroupIdLevel1, so everything after position 8 moved down by one.
"""

from __future__ import annotations

import re
import struct

SERVICE = "iphonesubinfo"
INTERFACE = "com.android.internal.telephony.IPhoneSubInfo"

_PIE = (
    "getDeviceId", "getNaiForSubscriber", "getDeviceIdForPhone", "getImeiForSubscriber",
    "getDeviceSvn", "getDeviceSvnUsingSubId", "getSubscriberId", "getSubscriberIdForSubscriber",
    "getGroupIdLevel1", "getGroupIdLevel1ForSubscriber", "getIccSerialNumber", "getIccSerialNumberForSubscriber",
    "getLine1Number", "getLine1NumberForSubscriber", "getLine1AlphaTag", "getLine1AlphaTagForSubscriber",
    "getMsisdn", "getMsisdnForSubscriber", "getVoiceMailNumber", "getVoiceMailNumberForSubscriber",
)
_Q = (
    "getDeviceId", "getNaiForSubscriber", "getDeviceIdForPhone", "getImeiForSubscriber",
    "getDeviceSvn", "getDeviceSvnUsingSubId", "getSubscriberId", "getSubscriberIdForSubscriber",
    "getGroupIdLevel1ForSubscriber", "getIccSerialNumber", "getIccSerialNumberForSubscriber",
    "getLine1Number", "getLine1NumberForSubscriber", "getLine1AlphaTag", "getLine1AlphaTagForSubscriber",
    "getMsisdn", "getMsisdnForSubscriber", "getVoiceMailNumber", "getVoiceMailNumberForSubscriber",
)

#: API level -> method name -> transaction code.
TRANSACTIONS: dict[int, dict[str, int]] = {
    **{sdk: {name: i + 1 for i, name in enumerate(_PIE)} for sdk in range(22, 29)},
    29: {name: i + 1 for i, name in enumerate(_Q)},
}

#: Methods that take an int (phoneId or subId) before the calling package.
INT_ARGUMENT = frozenset(name for name in (*_PIE, *_Q) if name.endswith(("ForSubscriber", "ForPhone", "UsingSubId")))

#: Which method reads which identifier. IMEI by slot: `getDeviceIdForPhone` with i32 slot.
IDENTIFIER_METHODS = {
    "imei": "getDeviceIdForPhone",
    "imsi": "getSubscriberId",
    "iccid": "getIccSerialNumber",
    "msisdn": "getLine1Number",
}


class ParcelError(ValueError):
    """`service call` did not print a Parcel holding a string (an exception, NULL, or garbage)."""


def transaction_code(method: str, sdk: int = 28) -> int:
    """The transaction code of `method` on API level `sdk`."""
    table = TRANSACTIONS.get(sdk)
    if table is None:
        known = ", ".join(str(k) for k in sorted(TRANSACTIONS))
        raise ValueError(f"no IPhoneSubInfo table for API level {sdk} (known: {known})")
    if method not in table:
        raise ValueError(f"IPhoneSubInfo has no method {method!r} on API level {sdk}")
    return table[method]


def method_name(code: int, sdk: int = 28) -> str | None:
    """The method behind transaction `code` on API level `sdk` (None when not in the table)."""
    return next((name for name, c in TRANSACTIONS.get(sdk, {}).items() if c == code), None)


def service_call_argv(method: str, *ints: int, sdk: int = 28) -> list[str]:
    """argv for `service call iphonesubinfo CODE [i32 N]...`."""
    argv = ["service", "call", SERVICE, str(transaction_code(method, sdk))]
    for value in ints:
        argv += ["i32", str(value)]
    return argv


# -- reading `service call` output -------------------------------------------------------------
_RESULT = re.compile(r"Result:\s*Parcel\((.*)\)\s*$", re.DOTALL)
_OFFSET = re.compile(r"^\s*0x[0-9a-fA-F]{8}:\s*")
_HEX = re.compile(r"\b[0-9a-fA-F]{2,8}\b")


def parse_parcel(text: str) -> bytes:
    """The bytes of the Parcel in `Result: Parcel(...)`, as little-endian words."""
    match = _RESULT.search(text.strip())
    if match is None:
        raise ParcelError(f"not a `service call` result: {text[:80]!r}")
    body = match.group(1).strip()
    if body == "NULL":
        raise ParcelError("empty reply (unknown transaction code?)")
    if body.startswith("Error:"):
        raise ParcelError(f"binder error: {body}")
    data = bytearray()
    for line in body.splitlines():
        hex_part = _OFFSET.sub("", line).split("'", 1)[0]
        for token in _HEX.findall(hex_part):
            if len(token) % 2:
                raise ParcelError(f"odd hex group {token!r} in {line.strip()!r}")
            data += int(token, 16).to_bytes(len(token) // 2, "little")
    if not data:
        raise ParcelError(f"no data in Parcel: {body[:80]!r}")
    return bytes(data)


def _read_string16(data: bytes, offset: int) -> tuple[str | None, int]:
    if offset + 4 > len(data):
        raise ParcelError("Parcel ends before the string length")
    (length,) = struct.unpack_from("<i", data, offset)
    offset += 4
    if length == -1:
        return None, offset
    if length < 0 or offset + 2 * length > len(data):
        raise ParcelError(f"string length {length} does not fit the Parcel ({len(data)} bytes)")
    value = data[offset : offset + 2 * length].decode("utf-16-le", errors="replace")
    offset += 2 * length + 2  # the UTF-16 NUL
    return value, offset + (-offset % 4)


def parse_parcel_optional_string(text: str) -> str | None:
    """The String a binder call returned (None for a null String); ParcelError for an exception."""
    data = parse_parcel(text)
    if len(data) < 4:
        raise ParcelError("Parcel shorter than its exception code")
    (code,) = struct.unpack_from("<i", data, 0)
    offset = 4
    if code == -128:  # EX_HAS_REPLY_HEADER: a header to skip, then no exception
        if offset + 4 > len(data):
            raise ParcelError("Parcel ends inside its reply header")
        (header,) = struct.unpack_from("<i", data, offset)
        offset += 4 + max(0, header)
        code = 0
    if code != 0:
        message, _ = _read_string16(data, offset)
        raise ParcelError(f"the call threw (exception code {code}): {message}")
    value, _ = _read_string16(data, offset)
    return value


def parse_parcel_string(text: str) -> str:
    """The String a binder call returned; a null String reads as ''."""
    return parse_parcel_optional_string(text) or ""
