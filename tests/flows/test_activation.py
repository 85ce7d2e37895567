"""Activation steps against the embedded virtual lab: SIMs through the lab's switcher, triggers,
and observation windows counted in device time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devicelab.activation.window import ObservationTimeoutError, wait_device_time
from devicelab.handset import Handset
from devicelab.handset.sim import OperatorSimSwitcher, SimSwitchError
from devicelab.model.builds import load_build
from devicelab.model.sims import load_sim


@pytest.fixture
def sim_restored(handset: Handset) -> Iterator[Handset]:
    """The leased handset, with the lab's SIM put back afterwards (other tests expect it)."""
    yield handset
    handset.insert_sim(handset.entry.sim, timeout=10)


def test_a_sim_goes_in_through_the_labs_switcher_and_data_goes_on(sim_restored: Handset) -> None:
    handset = sim_restored
    handset.shell("svc data disable", check=True)
    handset.insert_sim("telia-fi", timeout=10)
    assert handset.sim_state() == ("READY", load_sim("telia-fi").mccmnc)
    assert handset.shell("settings get global mobile_data", check=True).stdout.strip() == "1"
    handset.insert_sim(None, timeout=10)
    assert handset.sim_state()[0] == "ABSENT"


def test_a_sim_the_handset_never_sees_is_an_error(handset: Handset) -> None:
    class Absent:
        def insert(self, handset: Handset, sim: object, *, timeout: float) -> None:
            """A switcher whose SIM never reaches the slot."""

    start = time.monotonic()
    with pytest.raises(SimSwitchError, match=r"reports SIM READY 24201, not READY 24491 after 0 s") as info:
        handset.insert_sim("telia-fi", timeout=0.3, switcher=Absent())
    assert time.monotonic() - start < 5
    assert info.value.serial == handset.serial


def test_an_operator_is_asked_and_waited_for(handset: Handset) -> None:
    asked: list[tuple[str, float]] = []

    def nobody(prompt: str, timeout: float) -> bool:
        asked.append((prompt, timeout))
        return False

    with pytest.raises(SimSwitchError, match="nobody confirmed the SIM change within 2 s"):
        OperatorSimSwitcher(nobody).insert(handset, load_sim("telia-fi"), timeout=2)
    prompt, timeout = asked[0]
    assert "insert SIM telia-fi (Telia, ICCID 8935891000012345675)" in prompt
    assert handset.serial in prompt
    assert timeout == 2
    OperatorSimSwitcher(lambda _p, _t: True).insert(handset, None, timeout=1)


def test_without_a_terminal_the_operator_switcher_says_so(handset: Handset) -> None:
    with pytest.raises(SimSwitchError, match="no operator to ask: stdin is not a terminal"):
        OperatorSimSwitcher().insert(handset, load_sim("telia-fi"), timeout=1)


def test_device_time_runs_at_the_labs_rate(handset: Handset) -> None:
    rate = handset.clock_rate()
    assert 30 < rate < 120  # the embedded lab runs a 60x clock
    before = handset.device_time()
    assert abs(before - time.time()) < 7 * 24 * 3600  # an epoch time, not uptime


def test_an_observation_window_passes_in_device_time(handset: Handset) -> None:
    start = time.monotonic()
    seen = wait_device_time(handset, 90, rate=60.0)
    assert seen.device_seconds >= 90
    assert seen.host_seconds < 90 / 60 * 1.5 + 5
    assert time.monotonic() - start >= 90 / 60 * 0.8


def test_an_observation_bounded_by_a_wrong_rate_fails_in_host_time(handset: Handset) -> None:
    start = time.monotonic()
    with pytest.raises(ObservationTimeoutError, match=r"advanced \d+ of 3600 s in .* \(measured rate 100000.00x"):
        wait_device_time(handset, 3600, rate=100_000.0, margin=0.2)
    assert time.monotonic() - start < 3


def test_screen_on_and_unlock(handset: Handset) -> None:
    handset.unlock()
    assert handset.ui().call("screen state", lambda d: d.info["screenOn"]) is True


def test_reboot_and_cold_boot_triggers(handset: Handset) -> None:
    first = handset.getprop("sys.boot_completed")
    assert handset.reboot() >= 0
    assert handset.cold_boot() >= 0
    assert handset.getprop("sys.boot_completed") == first == "1"


def test_a_build_change_keeps_user_data(handset: Handset) -> None:
    old, new = load_build("nokia7plus-00WW_3_22C"), load_build("nokia7plus-00WW_3_22C_SP05")
    try:
        handset.flash(old)
        android_id = handset.shell("settings get secure android_id", check=True).stdout
        handset.update(new)
        assert handset.fingerprint() == new.fingerprint
        assert handset.shell("settings get secure android_id", check=True).stdout == android_id
    finally:
        if handset.fingerprint() != new.fingerprint:
            handset.flash(new)
