"""Binder Parcels as `service call` shows them: writing a reply, and printing it the way
frameworks/native's `service` does (Parcel::print with libutils' HexDump)."""

from __future__ import annotations

import struct

#: Parcel exception codes (android.os.Parcel.EX_*).
EX_SECURITY = -1
EX_ILLEGAL_ARGUMENT = -3


class Parcel:
    """A reply Parcel: 32-bit little-endian words and length-prefixed UTF-16 strings."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write_int(self, value: int) -> Parcel:
        self.data += struct.pack("<i", value)
        return self

    def write_string16(self, value: str | None) -> Parcel:
        if value is None:
            return self.write_int(-1)
        encoded = value.encode("utf-16-le")
        self.write_int(len(encoded) // 2)
        self.data += encoded + b"\0\0"
        self.data += b"\0" * (-len(self.data) % 4)
        return self

    def write_no_exception(self) -> Parcel:
        return self.write_int(0)

    def write_exception(self, code: int, message: str) -> Parcel:
        # Parcel.writeException: the code, the message, then a zero "no stack trace" header.
        return self.write_int(code).write_string16(message).write_int(0)


def string_reply(value: str | None) -> bytes:
    """What an AIDL method returning String writes: no exception, then the String."""
    return bytes(Parcel().write_no_exception().write_string16(value).data)


def _hexdump_lines(data: bytes, per_line: int = 16, align: int = 4) -> list[str]:
    # A port of printHexData(): words print as little-endian values (the bytes of each
    # aligned group reversed), then the bytes as ASCII between quotes.
    one_line = len(data) <= per_line
    lines = []
    for offset in range(0, len(data), per_line):
        length = len(data) - offset
        text = "" if one_line else f"0x{offset:08x}: "
        remain = length
        for word in range(0, per_line, align):
            if word:
                text += " "
            align_offset = align - 1
            if 0 < remain <= align_offset:
                align_offset = remain - 1
            start = offset + word + align_offset
            for index in range(align):
                if remain > 0:
                    text += f"{data[start - index]:02x}"
                elif not one_line:
                    text += "  "
                remain -= 1
        text += " '"
        for index in range(per_line):
            if index < length:
                byte = data[offset + index]
                text += chr(byte) if 32 <= byte < 127 else "."
            elif not one_line:
                text += " "
        text += "'"
        lines.append(text)
    return lines


def format_parcel(data: bytes) -> str:
    """`Result: Parcel(...)` exactly as `service call` prints a reply (no trailing newline)."""
    if not data:
        return "Result: Parcel(NULL)"
    lines = _hexdump_lines(data)
    if len(data) <= 16:
        return f"Result: Parcel({lines[0]})"
    # TextOutput's indent: a newline first, then every line indented by two spaces.
    return "Result: Parcel(\n" + "\n".join("  " + line for line in lines) + ")"
