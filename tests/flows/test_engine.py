"""The flow engine on recorded hierarchies (no device): recognition, choices, pop-ups, waits,
unknown screens and every bound."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from devicelab.errors import FlowError, FlowTimeoutError, UnknownScreenError, UnsupportedChoiceError
from devicelab.flows.choices import Choices, Consent, check_supported
from devicelab.flows.engine import FlowRun
from devicelab.flows.model import FLOWS_DIR, WizardFlow, load_flows
from devicelab.flows.recognise import recognise
from devicelab.flows.watchers import Pace
from devicelab.handset.hierarchy import parse

from .helpers import ReplayDriver, Shown, real_dump, recording

FAST = Pace(total=10, react=0.05, settle=0.05, poll=0.001)


@pytest.fixture(scope="module")
def flows() -> dict[str, WizardFlow]:
    return {flow.family: flow for flow in load_flows(FLOWS_DIR)}


def run(driver: ReplayDriver, flow: WizardFlow, choices: Choices | None = None, **kwargs: object) -> FlowRun:
    return FlowRun(driver, flow, choices or Choices(), pace=FAST, **kwargs)  # type: ignore[arg-type]


def test_each_recorded_screen_is_recognised(flows: dict[str, WizardFlow]) -> None:
    seen = [recognise(flows["android-one-9"], parse(s.xml)).name for s in recording("android-one-nosim-decline")]
    assert seen[:6] == ["welcome", "insert_sim", "wifi", "setup_offline", "checking_for_updates", "date_time"]
    assert seen[-1] == "home"
    assert {"google_services", "screen_lock", "skip_screen_lock", "hmd_privacy", "anything_else"} <= set(seen)
    china = [recognise(flows["hmd-china-9"], parse(s.xml)).name for s in recording("china-ct-decline")]
    assert china[:4] == ["welcome", "carrier_notice", "wifi", "privacy_agreement"]
    assert china[-1] == "home"


def test_real_dumps_recognised_as_a_person_would(flows: dict[str, WizardFlow]) -> None:
    google = flows["android-one-9"]
    assert recognise(google, parse(real_dump("shirates_AppIsNotResponding").xml)).name == "app_not_responding"
    assert recognise(google, parse(real_dump("avc_uiautomator_dump_nexuslauncher_api27").xml)).name == "home"
    assert recognise(google, parse(real_dump("shirates_SettingsTopScreen").xml)).name == "unknown"


def test_decline_all_replayed_to_home(flows: dict[str, WizardFlow]) -> None:
    driver = ReplayDriver(recording("android-one-nosim-decline"))
    result = run(driver, flows["android-one-9"], Choices(consent=Consent.DECLINE_ALL)).run()
    assert result.reached_home
    assert result.screens == ["welcome", "insert_sim", "wifi", "setup_offline", "date_time", "google_services",
                              "screen_lock", "skip_screen_lock", "hmd_privacy", "anything_else"]
    assert result.popups == ["checking_for_updates"]
    assert result.toggles == dict.fromkeys(
        ("location", "scanning", "auto_updates", "usage_diagnostics", "hmd_improve", "hmd_analytics"), False)
    services = next(v for v in result.visits if v.screen == "google_services")
    assert "location: on -> off" in services.actions
    assert any(a.startswith("scroll for") for a in services.actions)  # usage data is below the fold


def test_china_flow_ticks_the_required_agreement_and_declines_the_rest(flows: dict[str, WizardFlow]) -> None:
    driver = ReplayDriver(recording("china-ct-decline"))
    result = run(driver, flows["hmd-china-9"]).run()
    assert result.reached_home
    assert "carrier_notice" in result.screens
    assert result.toggles == {"privacy_agreed": True, "hmd_improve": False, "hmd_analytics": False}
    assert result.consents == {"hmd_improve": False, "hmd_analytics": False}


def test_a_dropped_tap_is_pressed_again(flows: dict[str, WizardFlow]) -> None:
    driver = ReplayDriver(recording("china-ct-decline"), ignore_presses=1)
    result = run(driver, flows["hmd-china-9"]).run()
    assert result.reached_home
    assert driver.clicks[0][:2] == driver.clicks[1][:2]  # "开始" twice


def test_a_screen_that_never_reacts_stops_the_flow(flows: dict[str, WizardFlow]) -> None:
    driver = ReplayDriver(recording("china-ct-decline"), ignore_presses=2)
    with pytest.raises(FlowTimeoutError) as info:
        run(driver, flows["hmd-china-9"]).run()
    assert info.value.last_screen == "welcome"
    assert "did not react to press id='start'" in str(info.value)
    assert info.value.serial == "REPLAY0001"


def test_anr_dialog_is_waited_away_and_the_flow_goes_on(flows: dict[str, WizardFlow]) -> None:
    shown = recording("china-ct-decline")
    shown.insert(1, real_dump("shirates_AppIsNotResponding"))
    driver = ReplayDriver(shown)
    result = run(driver, flows["hmd-china-9"]).run()
    assert result.reached_home
    assert result.popups == ["app_not_responding"]
    assert driver.clicks[1][:2] == (540, 1214)  # the centre of the real dialog's "Wait"
    assert "app_not_responding" not in result.screens


def test_unknown_screen_stops_with_evidence(flows: dict[str, WizardFlow], tmp_path: Path) -> None:
    shown = [*recording("android-one-nosim-decline")[:2], real_dump("shirates_SettingsTopScreen")]
    driver = ReplayDriver(shown)
    with pytest.raises(UnknownScreenError) as info:
        run(driver, flows["android-one-9"], evidence_dir=tmp_path).run()
    err = info.value
    assert err.last_screen == "insert_sim"
    assert "unknown screen after 'insert_sim'" in str(err)
    assert "com.android.settings" in str(err)  # what the screen showed instead
    assert err.hierarchy == shown[-1].xml
    assert err.screenshot.startswith(b"\x89PNG")
    assert err.evidence_dir == str(tmp_path)
    assert (tmp_path / "unknown-screen-after-insert_sim.xml").read_text(encoding="utf-8") == shown[-1].xml
    assert (tmp_path / "unknown-screen-after-insert_sim.png").exists()


def test_a_wait_screen_that_never_passes_is_bounded(flows: dict[str, WizardFlow]) -> None:
    google = flows["android-one-9"]
    stuck = next(s for s in recording("android-one-nosim-decline") if "Checking for updates" in s.xml)
    popups = tuple(p.model_copy(update={"passes_within": 0.05}) for p in google.popups)
    driver = ReplayDriver([Shown(stuck.xml, "press")])
    with pytest.raises(FlowTimeoutError, match=r"'checking_for_updates' did not pass within 0 s"):
        run(driver, google.model_copy(update={"popups": popups})).run()
    assert driver.reads >= 2


def test_a_missing_toggle_is_not_silently_skipped(flows: dict[str, WizardFlow]) -> None:
    shown = recording("android-one-nosim-decline")
    page = next(s.xml for s in shown if "usage_reporting_switch" in s.xml and "location_switch" in s.xml)
    without = page.replace("usage_reporting_switch", "some_other_switch")
    driver = ReplayDriver([Shown(without, "press")])
    with pytest.raises(FlowError, match=r"toggle 'usage_diagnostics' is not on 'google_services'.*does not scroll"):
        run(driver, flows["android-one-9"], Choices(consent=Consent.DECLINE_ALL)).run()
    assert len(driver.clicks) == 1  # "More", forward
    assert driver.swipes == 1  # then back up


def test_the_whole_flow_is_bounded(flows: dict[str, WizardFlow]) -> None:
    driver = ReplayDriver(recording("china-ct-decline"))
    ticks = iter(range(1000))
    slow = FlowRun(driver, flows["hmd-china-9"], Choices(), pace=Pace(total=3, react=100, settle=0, poll=0),
                   clock=lambda: float(next(ticks)), sleep=lambda _s: None)
    with pytest.raises(FlowTimeoutError, match="did not reach home within 3 s"):
        slow.run()


def test_choices_the_flow_cannot_honour_fail_before_anything_happens(flows: dict[str, WizardFlow]) -> None:
    with pytest.raises(UnsupportedChoiceError, match="cannot sign in to an account: the lab has no Google"):
        check_supported(flows["android-one-9"], Choices(account=True))
    with pytest.raises(UnsupportedChoiceError, match="has no toggle 'gps'"):
        check_supported(flows["android-one-9"], Choices(overrides={"gps": True}))
    with pytest.raises(UnsupportedChoiceError, match="'privacy_agreed' is required by the wizard"):
        check_supported(flows["hmd-china-9"], Choices(overrides={"privacy_agreed": False}))
    check_supported(flows["android-one-9"], Choices(overrides={"location": True}))


def test_choice_values() -> None:
    flow = {f.family: f for f in load_flows(FLOWS_DIR)}["android-one-9"]
    location = next(t for t in flow.toggles() if t.name == "location")
    assert Choices(consent=Consent.ACCEPT_ALL).value_of(location) is True
    assert Choices(consent=Consent.DECLINE_ALL).value_of(location) is False
    assert Choices(overrides={"location": True}).value_of(location) is True
    assert Choices(wifi=True).describe() == "decline all, Wi-Fi, no account"


def test_flow_errors_cross_process_boundaries_intact(flows: dict[str, WizardFlow]) -> None:
    """xdist pickles errors between processes: the evidence must survive the trip."""
    driver = ReplayDriver([real_dump("shirates_SettingsTopScreen")])
    with pytest.raises(UnknownScreenError) as info:
        run(driver, flows["android-one-9"]).run()
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is UnknownScreenError
    assert str(again) == str(info.value)
    assert (again.last_screen, again.family, again.serial) == ("(none yet)", "android-one-9", "REPLAY0001")
    assert again.screenshot == info.value.screenshot
    assert again.hierarchy == info.value.hierarchy
    unsupported = pickle.loads(pickle.dumps(UnsupportedChoiceError("no", family="f", choice="account")))
    assert (unsupported.family, unsupported.choice) == ("f", "account")
