"""Fault injection into a running virtual lab: the `fault` control op, and a client to call it.

    -> {"op": "fault", "serialno": "B2N...", "kind": "drop_adb", "seconds": 3}
    <- {"ok": true, "result": {"kind": "drop_adb", "applied": true, "detail": "..."}}

`applied` says whether the fault took effect (a uiautomator crash with no server running did
not): the chaos run counts a fault that did not land as missed, never as survived.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from devicelab.virtual.control import ControlClient, HandsetArgs, _handset, op

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset
    from devicelab.virtual.lab import VirtualLab

FaultKind = Literal["drop_adb", "reboot", "boot_hang", "boot_loop", "fastboot_drop", "ui_crash", "wifi_loss",
                    "sim_removed", "clock_jump"]
KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]
#: a boot that never completes: longer than any boot timeout
HANG_SECONDS = 10_000_000.0
MAX_FLAKY_SECONDS = 8.0
#: boot_loop: host seconds adb stays up in each boot before the handset resets (a real loop: a few)
LOOP_SECONDS = 2.0
MAX_LOOP_SECONDS = 600.0
#: how often a lasting link fault cuts the link again
REPEAT_INTERVAL = 0.02
_background: set[asyncio.Task[None]] = set()


class FaultArgs(HandsetArgs):
    kind: FaultKind
    #: drop_adb / fastboot_drop: keep cutting the link for this long; boot_loop: how long each boot
    #: lasts before it resets (0: LOOP_SECONDS); clock_jump: how far
    seconds: float = Field(default=0.0, ge=-86400 * 365, le=86400 * 365)

    @model_validator(mode="after")
    def _short_link_faults(self) -> FaultArgs:
        # the op answers when the flaky link is done: keep it inside the client's timeout
        if self.kind in ("drop_adb", "fastboot_drop") and not 0 <= self.seconds <= MAX_FLAKY_SECONDS:
            raise ValueError(f"seconds: a link fault lasts 0 to {MAX_FLAKY_SECONDS:g} s")
        if self.kind == "boot_loop" and not 0 <= self.seconds <= MAX_LOOP_SECONDS:
            raise ValueError(f"seconds: a boot of a boot loop lasts 0 to {MAX_LOOP_SECONDS:g} s")
        return self


async def _drop_adb(handset: VirtualHandset) -> int:
    adbd: Any = handset.adbd
    if adbd is None:
        return 0
    count = len(getattr(adbd, "connections", ()))
    await adbd.drop_connections()
    return count


async def _drop_fastboot(handset: VirtualHandset) -> int:
    fastbootd: Any = handset.fastbootd
    if fastbootd is None:
        return 0
    dropped: int = await fastbootd.drop_connections()
    return dropped


async def _flaky_link(handset: VirtualHandset, drop: Any, seconds: float) -> int:
    """Cut the link until a cut lands (or `seconds` pass); keep cutting in the background for the
    rest of `seconds` (a flaky cable). Answers at the first cut: the run may end right after it."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    count = await drop(handset)
    while count == 0 and loop.time() < end:
        await asyncio.sleep(REPEAT_INTERVAL)
        count = await drop(handset)

    async def more() -> None:
        while loop.time() < end:
            await asyncio.sleep(REPEAT_INTERVAL)
            with contextlib.suppress(Exception):
                await drop(handset)

    if loop.time() < end:
        task = loop.create_task(more())
        _background.add(task)
        task.add_done_callback(_background.discard)
    return int(count)


@op("fault", FaultArgs)
async def _fault(lab: VirtualLab, args: FaultArgs) -> dict[str, Any]:
    handset = _handset(lab, args.serialno)
    applied, detail = await inject(handset, args.kind, args.seconds)
    return {"kind": args.kind, "applied": applied, "detail": detail, "state": str(handset.state)}


async def inject(handset: VirtualHandset, kind: str, seconds: float = 0.0) -> tuple[bool, str]:
    """Apply one fault now; (took effect, what happened)."""
    from devicelab.virtual.handset import BootState
    from devicelab.virtual.ui.hooks import crash_server

    if kind in ("drop_adb", "fastboot_drop"):
        drop = _drop_adb if kind == "drop_adb" else _drop_fastboot
        count = await _flaky_link(handset, drop, seconds)
        return count > 0, f"{count} link(s) cut, the link stays flaky for {seconds:g} s"
    if kind == "reboot":
        if handset.state == BootState.OFF:
            return False, "the handset is off"
        handset.reboot()
        return True, f"rebooting from {handset.state}"
    if kind == "boot_hang":
        handset.boot_seconds = HANG_SECONDS  # every later boot stops short of boot_completed
        return True, "boots no longer complete"
    if kind == "boot_loop":
        loop = seconds or LOOP_SECONDS
        handset.loop_boots(loop)  # every later boot (and one under way) resets before boot_completed
        return True, f"every boot resets {loop:g} s after adb came up"
    if kind == "ui_crash":
        crashed = crash_server(handset)
        return crashed, "uiautomator server crashed" if crashed else "no uiautomator server running"
    if kind == "wifi_loss":
        handset.radio.wifi_connected = False
        handset.radio.mobile_data = False  # the whole data path goes, not just one bearer
        if handset.system is not None:
            handset.system.refresh_radio()
        return True, "no network"
    if kind == "sim_removed":
        had = handset.radio.sim is not None
        handset.insert_sim(None)
        return had, "SIM taken out" if had else "no SIM was in"
    if kind == "clock_jump":
        jump = seconds or 3600.0
        handset.clock.jump(jump)
        return True, f"device clock jumped {jump:+g} s"
    raise ValueError(f"unknown fault {kind!r}")


class FaultInjector:
    """Injects faults through a lab's control socket (tests, `make chaos`)."""

    def __init__(self, control: Path | str) -> None:
        self.client = ControlClient(control)

    def serials(self) -> list[str]:
        return [str(s) for s in self.client.request("ping", timeout=10).get("handsets", [])]

    def inject(self, serialno: str, kind: str, seconds: float = 0.0) -> dict[str, Any]:
        return self.client.request("fault", timeout=MAX_FLAKY_SECONDS + 10, serialno=serialno, kind=kind,
                                   seconds=seconds)
