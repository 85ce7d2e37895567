"""A tiny protobuf wire-format writer and reader: enough for checkin and Clearcut messages,
written by hand so the bytes are exactly what the field numbers say."""

from __future__ import annotations

from dataclasses import dataclass, field

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
U64 = (1 << 64) - 1


def varint(value: int) -> bytes:
    """Base-128 varint; negative int64 values take ten bytes, as protobuf encodes them."""
    value &= U64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@dataclass
class Message:
    """Fields in the order they are added (protobuf writers emit them by field number; callers
    add them in that order)."""

    parts: list[bytes] = field(default_factory=list)

    def _key(self, number: int, wire: int) -> bytes:
        return varint(number << 3 | wire)

    def num(self, number: int, value: int) -> Message:
        """int32/int64/uint64/enum as a varint."""
        self.parts.append(self._key(number, VARINT) + varint(value))
        return self

    def flag(self, number: int, value: bool) -> Message:
        return self.num(number, 1 if value else 0)

    def fixed64(self, number: int, value: int) -> Message:
        self.parts.append(self._key(number, FIXED64) + (value & U64).to_bytes(8, "little"))
        return self

    def raw(self, number: int, value: bytes) -> Message:
        self.parts.append(self._key(number, LENGTH) + varint(len(value)) + value)
        return self

    def text(self, number: int, value: str) -> Message:
        return self.raw(number, value.encode())

    def sub(self, number: int, value: Message) -> Message:
        return self.raw(number, value.encode())

    def encode(self) -> bytes:
        return b"".join(self.parts)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & U64, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint longer than ten bytes")


def decode(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field; ValueError on malformed input."""
    fields: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        value: int | bytes
        if wire == VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == FIXED64:
            if pos + 8 > len(data):
                raise ValueError("truncated fixed64")
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == LENGTH:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated length-delimited field")
            value, pos = data[pos : pos + size], pos + size
        elif wire == FIXED32:
            if pos + 4 > len(data):
                raise ValueError("truncated fixed32")
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.append((number, wire, value))
    return fields


def first(fields: list[tuple[int, int, int | bytes]], number: int) -> int | bytes | None:
    return next((v for n, _, v in fields if n == number), None)
