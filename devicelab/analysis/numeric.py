"""Identifiers as the bytes and alphabets that binary protocols and SDKs put them in.

    bcd / tbcd        packed decimal, first digit in the high (BCD) or low (TBCD, "swapped") nibble,
                      an odd count padded with F, as SIM files and MAP / Diameter / NAS carry them
    mobile_identity   3GPP TS 24.008 §10.5.1.4: digit 1, odd/even and the identity type in octet 1,
                      the rest TBCD; EF_IMSI (TS 31.102 §4.2.2) is this with a length octet before it
    int64 / varint    a decimal identifier as a number: 8 bytes big or little endian, protobuf varint
    base32_stable     RFC 4648 Base32 characters that encode only the given bytes (any alignment)
    base58            the Bitcoin alphabet (a whole-value encoding: no alignment survives)
    geohash           the base32 cell string of a position
"""

from __future__ import annotations

import base64
import struct

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz"


def bcd(digits: str, swapped: bool = False) -> bytes:
    """Packed BCD of a digit string (F fills the last nibble of an odd count)."""
    text = digits + ("F" if len(digits) % 2 else "")
    pairs = (text[i:i + 2] for i in range(0, len(text), 2))
    return bytes.fromhex("".join(pair[::-1] if swapped else pair for pair in pairs))


def mobile_identity(digits: str, kind: int) -> bytes:
    """TS 24.008 mobile identity contents: kind 1 IMSI, 2 IMEI, 3 IMEISV."""
    odd = len(digits) % 2
    return bytes([int(digits[0]) << 4 | odd << 3 | kind]) + bcd(digits[1:], swapped=True)


def int64(number: int, order: str) -> bytes:
    """8 bytes, ">" big or "<" little endian; unsigned above 2**63 (an Android ID's 64 bits)."""
    return struct.pack(f"{order}Q", number % 2**64)


def varint(number: int) -> bytes:
    """Protobuf base-128 varint (a negative number as its 64-bit two's complement, as int64 fields do)."""
    number %= 2**64
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def base32_stable(data: bytes, offset: int) -> bytes:
    """The Base32 characters that encode only `data` when it starts `offset` (0-4) bytes into a stream.

    A character covers 5 bits; it is stable when all of them come from `data` (as base64_stable).
    """
    encoded = base64.b32encode(b"\0" * offset + data + b"\0" * 4)
    first = -(-8 * offset // 5)
    last = (8 * offset + 8 * len(data)) // 5
    return encoded[first:last]


def base58(data: bytes) -> bytes:
    """Bitcoin Base58 of `data` (leading zero bytes become '1')."""
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, digit = divmod(number, 58)
        out.append(_BASE58[digit])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return ("1" * zeros + "".join(reversed(out))).encode()


def geohash(lat: float, lon: float, precision: int) -> str:
    """The geohash cell of a position (interleaved longitude and latitude bits, base32)."""
    bounds = [[-90.0, 90.0], [-180.0, 180.0]]
    bits: list[int] = []
    even = True  # longitude first
    while len(bits) < precision * 5:
        span, value = (bounds[1], lon) if even else (bounds[0], lat)
        middle = (span[0] + span[1]) / 2
        bits.append(int(value >= middle))
        span[value < middle] = middle
        even = not even
    return "".join(_GEOHASH[int("".join(map(str, bits[i:i + 5])), 2)] for i in range(0, len(bits), 5))


def geohash_center(cell: str) -> tuple[float, float]:
    """The middle of a geohash cell."""
    bounds = [[-90.0, 90.0], [-180.0, 180.0]]
    even = True
    for char in cell:
        index = _GEOHASH.index(char)
        for shift in range(4, -1, -1):
            span = bounds[1] if even else bounds[0]
            middle = (span[0] + span[1]) / 2
            span[0 if index >> shift & 1 else 1] = middle
            even = not even
    return (bounds[0][0] + bounds[0][1]) / 2, (bounds[1][0] + bounds[1][1]) / 2
