from __future__ import annotations

import pytest

from devicelab.adb import DeviceState
from devicelab.errors import AdbError, AdbTimeoutError, HandsetError
from devicelab.handset import Handset
from devicelab.lab.retry import with_retries
from devicelab.model.inventory import AdbAddress, HandsetEntry, Timeouts


def test_an_infrastructure_failure_is_tried_again_and_noted() -> None:
    calls: list[int] = []
    notes: list[str] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise AdbError("device offline", serial="B2N1", step="flash")
        return "flashed"

    assert with_retries("flash", flaky, pause=0, notes=notes) == "flashed"
    assert len(calls) == 2
    assert notes == ["flash: attempt 1 of 2 failed ([B2N1] flash: device offline); retrying"]


def test_retries_are_bounded_and_the_last_error_is_raised() -> None:
    calls: list[int] = []

    def dead() -> None:
        calls.append(1)
        raise HandsetError(f"gone {len(calls)}", serial="B2N1", step="boot")

    with pytest.raises(HandsetError, match="gone 3"):
        with_retries("boot", dead, attempts=3, pause=0)
    assert len(calls) == 3


def test_a_finding_is_never_retried() -> None:
    calls: list[int] = []

    def leak() -> None:
        calls.append(1)
        raise AssertionError("IMEI to zzhc.vnet.cn")

    with pytest.raises(AssertionError, match="zzhc"):
        with_retries("assert", leak, pause=0)
    assert len(calls) == 1


def test_a_retry_first_waits_for_the_lab_and_the_last_failure_does_not() -> None:
    events: list[str] = []

    def dead() -> None:
        events.append("try")
        raise AdbError("device offline", serial="B2N1", step="first boot")

    with pytest.raises(AdbError):
        with_retries("first boot", dead, attempts=3, pause=0, before_retry=lambda: events.append("wait"))
    assert events == ["try", "wait", "try", "wait", "try"]


class _Cable:
    """adb state of a handset on a cable that drops every other poll for the first `flaky` polls."""

    def __init__(self, flaky: int) -> None:
        self.polls = 0
        self.flaky = flaky

    def state(self) -> DeviceState:
        self.polls += 1
        if self.polls <= self.flaky and self.polls % 2:
            return DeviceState.OFFLINE
        return DeviceState.DEVICE


def _handset(cable: _Cable) -> Handset:
    entry = HandsetEntry(id="h1", serialno="B2N1", adb=AdbAddress(serial="emulator-5554"), fastboot="tcp:x:1",
                         model="B2N")
    return Handset(entry, cable, None, Timeouts(boot=3))  # type: ignore[arg-type]


def test_steady_means_on_adb_for_the_whole_settle_time() -> None:
    cable = _Cable(flaky=6)
    _handset(cable).wait_until_steady(settle=0.3)
    assert cable.polls >= 6 + 3  # not the first good poll between two drops: three good ones in a row


def test_a_cable_that_keeps_dropping_is_a_named_timeout() -> None:
    with pytest.raises(AdbTimeoutError, match=r"\[B2N1\] first boot: not steadily on adb"):
        _handset(_Cable(flaky=10_000)).wait_until_steady(timeout=0.5, settle=0.3, step="first boot")
