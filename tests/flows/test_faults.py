"""First boot meeting what a wizard script does not expect: unknown screens, pop-ups, a dying
uiautomator server. A private virtual handset, broken on purpose."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.errors import UiServerError, UnknownScreenError
from devicelab.flows import Choices, Pace, first_boot
from devicelab.handset import Handset
from devicelab.handset.ui import HandsetUi, UiTimeouts
from devicelab.virtual.lab import VirtualLab
from devicelab.virtual.shell.io import CommandContext
from devicelab.virtual.shell.registry import main_class, register_main_class
from devicelab.virtual.ui import faults
from devicelab.virtual.ui.app_process import MAIN_CLASS
from devicelab.virtual.ui.screens import Screen, Widget

from .helpers import private_lab

SURPRISE = Screen(id="surprise", kind="dialog", package="com.example.promo", activity=".PromoDialog",
                  title="Win a free phone!", footer=(Widget(kind="button", id="android:id/button1", text="Claim",
                                                            action="dismiss"),))


@pytest.fixture(scope="module")
def lab_and_handset() -> Iterator[tuple[VirtualLab, Handset]]:
    with private_lab(build="nokia7plus-00WW_3_22C", sim="telenor-no", seed="flows-faults") as pair:
        yield pair


@pytest.fixture
def fresh(lab_and_handset: tuple[VirtualLab, Handset]) -> tuple[VirtualLab, Handset]:
    lab, handset = lab_and_handset
    handset.factory_reset()
    return lab, handset


class CrashingUi(HandsetUi):
    """Kills the on-device server after the n-th press, as a flaky handset would."""

    def __init__(self, handset: Handset, lab: VirtualLab, after: int) -> None:
        super().__init__(handset)
        self.lab, self.after, self.presses, self.crashes = lab, after, 0, 0

    def click(self, x: int, y: int, step: str) -> None:
        super().click(x, y, step)
        self.presses += 1
        if self.presses == self.after:
            self.crashes += self.lab.call(lambda: faults.crash_server(self.lab.handsets[0]))


def test_an_unexpected_dialog_stops_the_flow_with_evidence(fresh: tuple[VirtualLab, Handset], tmp_path: Path) -> None:
    lab, handset = fresh
    lab.call(lambda: faults.inject_screen(lab.handsets[0], SURPRISE))  # at the next screen change
    start = time.monotonic()
    with pytest.raises(UnknownScreenError) as info:
        first_boot(handset, Choices(), evidence_dir=tmp_path, pace=Pace(settle=0.5))
    assert time.monotonic() - start < 10
    err = info.value
    assert err.last_screen == "welcome"
    assert err.serial == handset.serial
    assert "unknown screen after 'welcome' (com.example.promo: 'Win a free phone!', 'Claim')" in str(err)
    assert 'text="Win a free phone!"' in err.hierarchy
    assert err.screenshot.startswith(b"\x89PNG")  # adb screencap, not the u2 server
    assert (tmp_path / "unknown-screen-after-welcome.png").read_bytes() == err.screenshot
    assert "Win a free phone!" in (tmp_path / "unknown-screen-after-welcome.xml").read_text(encoding="utf-8")


def test_anr_and_update_prompts_are_pressed_away(fresh: tuple[VirtualLab, Handset]) -> None:
    lab, handset = fresh
    lab.call(lambda: faults.inject_screen(lab.handsets[0], faults.anr_dialog()))
    lab.call(lambda: faults.inject_screen(lab.handsets[0], faults.update_dialog()))
    result = first_boot(handset, Choices())
    assert result.reached_home
    assert result.popups[:2] == ["app_not_responding", "system_update"]
    assert result.mismatches == []


def test_a_server_crash_mid_flow_is_recovered(fresh: tuple[VirtualLab, Handset]) -> None:
    lab, handset = fresh
    ui = CrashingUi(handset, lab, after=3)
    try:
        start = time.monotonic()
        result = first_boot(handset, Choices(), ui=ui)
        assert time.monotonic() - start < 20
    finally:
        ui.close()
    assert ui.crashes == 1
    assert result.reached_home
    assert result.mismatches == []


def test_a_server_that_stays_dead_is_reported_in_bounded_time(fresh: tuple[VirtualLab, Handset]) -> None:
    lab, handset = fresh
    original = main_class(MAIN_CLASS)
    assert original is not None

    async def dies_at_once(ctx: CommandContext) -> int:
        await ctx.err("java.lang.RuntimeException: broken on purpose\n")
        return 1

    class DiesAfterTwoPresses(CrashingUi):
        def click(self, x: int, y: int, step: str) -> None:
            super().click(x, y, step)
            if self.presses == 2:
                register_main_class(MAIN_CLASS, dies_at_once)  # in this process's virtual lab only

    ui = DiesAfterTwoPresses(handset, lab, after=2)
    ui.timeouts = UiTimeouts(launch=2.0, recoveries=1)
    start = time.monotonic()
    try:
        with pytest.raises(UiServerError) as info:
            first_boot(handset, Choices(), ui=ui)
    finally:
        register_main_class(MAIN_CLASS, original.run, jar_required=original.jar_required)
        ui.close()
    assert time.monotonic() - start < 20
    assert info.value.serial == handset.serial
    assert info.value.step.startswith("first boot (android-one-9) at ")
    assert "did not answer after 2 attempts" in str(info.value)
