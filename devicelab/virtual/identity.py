"""Hardware identity of a virtual handset: IMEIs, serial number, MAC addresses."""

from __future__ import annotations

import random
from dataclasses import dataclass

# A Type Allocation Code in the range HMD handsets use; the rest of each IMEI is generated.
NOKIA_TAC = "35391110"


def luhn_check_digit(digits: str) -> str:
    """The Luhn check digit for a string of decimal digits (IMEI, ICCID)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


@dataclass(frozen=True)
class HardwareIdentity:
    """What is burned into a handset: survives flashing and factory resets."""

    serialno: str
    imei1: str
    imei2: str
    wifi_mac: str
    bt_mac: str

    @classmethod
    def generate(cls, seed: int | str) -> HardwareIdentity:
        rng = random.Random(f"devicelab-handset-{seed}")

        def imei() -> str:
            body = NOKIA_TAC + f"{rng.randrange(10**6):06d}"
            return body + luhn_check_digit(body)

        def mac(oui: tuple[int, int, int]) -> str:
            octets = [*oui, rng.randrange(256), rng.randrange(256), rng.randrange(256)]
            return ":".join(f"{o:02x}" for o in octets)

        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3))
        serialno = f"B2N{letters}{rng.randrange(10**10):010d}"
        # HMD/FIH-registered OUIs are not needed for realism here; use FIH Mobile's 8c:45:00 style
        return cls(
            serialno=serialno,
            imei1=imei(),
            imei2=imei(),
            wifi_mac=mac((0x8C, 0x45, 0x00)),
            bt_mac=mac((0x8C, 0x45, 0x01)),
        )
