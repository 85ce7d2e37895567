"""Talking to an adb server: which handsets it sees, and in what state."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from devicelab.adb.server import AdbServer
from devicelab.adb.wire import Deadline, WireError, open_connection, read_length_prefixed, request
from devicelab.errors import AdbError, AdbTimeoutError


class DeviceState(enum.StrEnum):
    DEVICE = "device"
    OFFLINE = "offline"
    RECOVERY = "recovery"
    BOOTLOADER = "bootloader"
    UNAUTHORIZED = "unauthorized"
    SIDELOAD = "sideload"
    GONE = "gone"  # not listed at all

    @classmethod
    def parse(cls, text: str) -> DeviceState:
        try:
            return cls(text)
        except ValueError:
            return cls.OFFLINE


@dataclass(frozen=True)
class Listing:
    """One line of `adb devices -l`."""

    serial: str
    state: DeviceState
    properties: dict[str, str] = field(default_factory=dict)


class AdbClient:
    """Host-side requests to one adb server (local or remote)."""

    def __init__(self, server: AdbServer) -> None:
        self.server = server

    def host_request(self, service: str, *, timeout: float = 10.0, reply: bool = True) -> str:
        deadline = Deadline.after(timeout)
        try:
            conn = open_connection(self.server.host, self.server.port, deadline)
        except WireError as exc:
            raise AdbError(str(exc), step=service, command=service) from None
        try:
            request(conn, service, deadline)
            return read_length_prefixed(conn, deadline).decode(errors="replace") if reply else ""
        except WireError as exc:
            raise AdbError(f"adb server refused {service!r}: {exc}", step=service, command=service) from None
        finally:
            conn.close()

    def devices(self, timeout: float = 10.0) -> list[Listing]:
        out = self.host_request("host:devices-l", timeout=timeout)
        listings = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 2:
                continue
            props = dict(p.split(":", 1) for p in parts[2:] if ":" in p)
            listings.append(Listing(parts[0], DeviceState.parse(parts[1]), props))
        return listings

    def state_of(self, serial: str, timeout: float = 10.0) -> DeviceState:
        for listing in self.devices(timeout):
            if listing.serial == serial:
                return listing.state
        return DeviceState.GONE

    def wait_for_state(self, serial: str, wanted: set[DeviceState], timeout: float, *,
                       label: str = "", step: str = "wait-for-device", poll: float = 0.05) -> DeviceState:
        """Poll until the handset's state is one of `wanted`; AdbTimeoutError names what it was."""
        end = time.monotonic() + timeout
        state = DeviceState.GONE
        while True:
            state = self.state_of(serial, timeout=max(1.0, min(5.0, end - time.monotonic())))
            if state in wanted:
                return state
            if time.monotonic() >= end:
                want = "/".join(sorted(wanted))
                raise AdbTimeoutError(f"still {state} after {timeout:.0f} s (waiting for {want})",
                                      serial=label or serial, step=step)
            time.sleep(poll)

    def disconnect(self, address: str, timeout: float = 10.0) -> None:
        self.host_request(f"host:disconnect:{address}", timeout=timeout)
