"""The adb transport wire format: 24-byte packet headers and the CNXN banner (pure functions)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

A_CNXN = 0x4E584E43
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_WRTE = 0x45545257
A_CLSE = 0x45534C43
A_AUTH = 0x48545541
A_STLS = 0x534C5453

COMMAND_NAMES = {
    A_CNXN: "CNXN", A_OPEN: "OPEN", A_OKAY: "OKAY", A_WRTE: "WRTE", A_CLSE: "CLSE", A_AUTH: "AUTH", A_STLS: "STLS",
}

#: The version adb 29's server and Android 9+ devices speak (skips data checksums).
VERSION = 0x01000001
#: What the device offers; the transport uses min(ours, the host's).
MAX_PAYLOAD = 1024 * 1024
#: The largest payload the device accepts from a host, whatever the host advertised.
MAX_INBOUND = 1024 * 1024

#: Only features this adbd really implements: a newer adb would use anything advertised.
FEATURES = ("shell_v2", "stat_v2", "ls_v2", "fixed_push_mkdir")

HEADER = struct.Struct("<6I")
HEADER_SIZE = HEADER.size


class ProtocolError(Exception):
    """The peer sent something that is not the adb transport protocol."""


@dataclass(frozen=True)
class Header:
    command: int
    arg0: int
    arg1: int
    data_length: int
    data_check: int

    @property
    def name(self) -> str:
        return COMMAND_NAMES.get(self.command, f"0x{self.command:08x}")


def checksum(data: bytes) -> int:
    """The adb data check: the byte sum (only version 0x01000000 peers verify it)."""
    return sum(data) & 0xFFFFFFFF


#: From this peer version on, nobody checks data_check and adbd sends 0 (summing 1 MiB
#: payloads in Python would cost ~10 ms each).
VERSION_SKIP_CHECKSUM = 0x01000001


def encode(command: int, arg0: int, arg1: int, data: bytes = b"", *, with_checksum: bool = True) -> bytes:
    """One packet, header and payload in one buffer (one send, no Nagle stall)."""
    check = checksum(data) if with_checksum and data else 0
    header = HEADER.pack(command, arg0, arg1, len(data), check, command ^ 0xFFFFFFFF)
    return header + data if data else header


def decode_header(raw: bytes, *, max_data: int = MAX_INBOUND) -> Header:
    """Parse and validate a 24-byte header; ProtocolError when it is not one."""
    if len(raw) != HEADER_SIZE:
        raise ProtocolError(f"short header: {len(raw)} bytes")
    command, arg0, arg1, length, check, magic = HEADER.unpack(raw)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic 0x{magic:08x} for command 0x{command:08x}")
    if command not in COMMAND_NAMES:
        raise ProtocolError(f"unknown command 0x{command:08x}")
    if length > max_data:
        raise ProtocolError(f"{COMMAND_NAMES[command]} payload of {length} bytes exceeds {max_data}")
    return Header(command, arg0, arg1, length, check)


def banner(state: str, props: dict[str, str], features: tuple[str, ...] = FEATURES) -> bytes:
    """The device's CNXN payload: `device::ro.product.name=..;..;features=..`."""
    fields = [f"{key}={props.get(key, '')}" for key in ("ro.product.name", "ro.product.model", "ro.product.device")]
    fields.append("features=" + ",".join(features))
    return f"{state}::{';'.join(fields)}".encode()


def parse_service(data: bytes) -> str:
    """The service name of an OPEN payload (NUL-terminated, UTF-8)."""
    name = data.split(b"\0", 1)[0]
    try:
        return name.decode()
    except UnicodeDecodeError:
        raise ProtocolError(f"service name is not UTF-8: {name[:60]!r}") from None
