"""The setup wizards as data and as a state machine, without views or a handset."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from devicelab.errors import ConfigError
from devicelab.virtual.ui.screens import WIZARDS_DIR, load_wizard_file, load_wizards, wizard_for_build
from devicelab.virtual.ui.wizard import WizardEnv, WizardRun

TELENOR, CHINA_TELECOM = "24201", "46011"


class World:
    """A SIM slot, a network and a clock the test controls."""

    def __init__(self, sim: str | None = None, *, online: bool = False) -> None:
        self.sim, self.online, self.time = sim, online, 1000.0

    def env(self, seed: str = "seed") -> WizardEnv:
        def join() -> None:
            self.online = True

        return WizardEnv(lambda: self.sim, lambda: self.online or self.sim is not None, join, lambda: self.time, seed)


def press(run: WizardRun, text: str) -> None:
    """Tap the button or item reading `text` on what is showing (a dialog first)."""
    screen = run.dialog or run.current
    for widget in screen.all_widgets():
        label, action = run.primary_label(screen, widget) if widget in screen.footer else (widget.text, widget.action)
        if label == text and run.shows(widget):
            assert run.enabled(widget), f"{text!r} is disabled on {screen.id}"
            run.act(action)
            return
    raise AssertionError(f"no {text!r} on {screen.id}: {[w.text for w in screen.all_widgets()]}")


def seed_where(family: str, screen_id: str, *, shown: bool) -> str:
    """A per-boot seed for which the sometimes-screen `screen_id` does (not) appear."""
    wizard = next(w for w in load_wizards() if w.family == family)
    for i in range(200):
        run = WizardRun(wizard, World(online=True).env(f"seed-{i}"))
        if run._applies(wizard.screen(screen_id)) == shown:
            return f"seed-{i}"
    raise AssertionError("no such seed")


def android_one(world: World, *, seed: str = "seed") -> WizardRun:
    return WizardRun(wizard_for_build("nokia7plus-00WW_3_22C"), world.env(seed))


def china(world: World, *, seed: str = "seed") -> WizardRun:
    return WizardRun(wizard_for_build("nokia7plus-00CN_3_340"), world.env(seed))


# -- data -------------------------------------------------------------------------------------
def test_every_build_family_has_its_wizard() -> None:
    assert {w.family for w in load_wizards()} == {"android-one-9", "hmd-china-9"}
    for build in ("nokia7plus-00WW_3_22C", "nokia7plus-00WW_3_22C_SP05", "nokia7plus-00WW_3_22C-userdebug"):
        assert wizard_for_build(build).family == "android-one-9"
    assert wizard_for_build("nokia7plus-00CN_3_340").family == "hmd-china-9"
    assert wizard_for_build("some-other-build").family == "android-one-9"  # the catch-all pattern


def test_real_resource_ids_of_the_google_flow() -> None:
    wizard = wizard_for_build("nokia7plus-00WW_3_22C")
    welcome = wizard.screens[0]
    ids = {welcome.resource(w.id) for w in welcome.widgets} | {welcome.resource(welcome.title_id)}
    assert {"com.google.android.setupwizard:id/start", "com.google.android.setupwizard:id/welcome_title",
            "com.google.android.setupwizard:id/language_picker"} <= ids
    assert wizard.home.package == "com.google.android.apps.nexuslauncher"
    assert any(s.package == "com.evenwell.SetupWizard" for s in wizard.screens)


def _broken(tmp_path: Path, edit: object) -> Path:
    data = yaml.safe_load((WIZARDS_DIR / "android-one-9.yaml").read_text(encoding="utf-8"))
    edit(data)  # type: ignore[operator]
    path = tmp_path / "android-one-9.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        (lambda d: d["screens"][0]["widgets"][1].update(action="jump"), "screens.0.widgets.1.action", "expected next"),
        (lambda d: d["screens"][0]["widgets"][1].update(action="goto:nowhere"), "(top level)", "names no screen"),
        (lambda d: d["screens"].append(d["screens"][1]), "(top level)", "listed twice"),
        (lambda d: d["screens"][0].update(colour="blue"), "screens.0.colour", "unknown field"),
        (lambda d: d["screens"][1].update(chance=2), "screens.1.chance", "less than or equal to 1"),
        (lambda d: d.pop("home"), "home", "required field is missing"),
        (lambda d: d["screens"][-1]["footer"][0].update(action="next"), "(top level)", "finishes the wizard"),
        (lambda d: d.update(family="other"), "family", "file is named"),
    ],
)
def test_a_bad_wizard_file_names_the_field(tmp_path: Path, edit: object, field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_wizard_file(_broken(tmp_path, edit))
    assert info.value.field == field
    assert problem in info.value.problem


def test_no_matching_wizard_is_a_config_error(tmp_path: Path) -> None:
    shutil.copy(WIZARDS_DIR / "hmd-china-9.yaml", tmp_path)
    with pytest.raises(ConfigError, match="no wizard matches build 'nokia7plus-00WW_3_22C'"):
        wizard_for_build("nokia7plus-00WW_3_22C", tmp_path)


# -- the Google flow ---------------------------------------------------------------------------
def test_android_one_offline_without_sim() -> None:
    world = World()
    run = android_one(world, seed=seed_where("android-one-9", "just_a_sec", shown=False))
    press(run, "Start")
    assert run.current.id == "insert_sim"
    press(run, "Skip")
    assert run.current.id == "wifi"
    press(run, "Set up offline")
    assert run.dialog is not None
    assert run.dialog.id == "setup_offline"
    press(run, "Continue")
    assert run.current.id == "date_time"  # offline: no copying, no Google account
    press(run, "Next")
    assert run.current.id == "google_services"
    press(run, "More")
    press(run, "More")
    press(run, "Accept")
    assert run.current.id == "screen_lock"
    press(run, "Not now")
    press(run, "Skip")
    assert run.current.id == "oem_privacy"
    press(run, "Accept")
    press(run, "No thanks")
    assert run.finished
    assert run.visited == ["welcome", "insert_sim", "wifi", "date_time", "google_services", "screen_lock",
                           "oem_privacy", "anything_else"]


def test_android_one_online_with_a_sim() -> None:
    world = World(TELENOR)
    run = android_one(world, seed=seed_where("android-one-9", "just_a_sec", shown=True))
    press(run, "Start")
    assert run.current.id == "wifi"  # a SIM: no "insert SIM"
    assert not any(w.text == "Set up offline" and run.shows(w) for w in run.current.footer)
    press(run, "Skip")
    press(run, "Continue")
    assert run.current.id == "just_a_sec"
    world.time += 1.5
    assert not run.tick()  # 2 s of device time have not passed
    world.time += 1.0
    assert run.tick()
    assert run.current.id == "copy_data"
    press(run, "Don't copy")
    assert run.current.id == "google_account"
    press(run, "Next")  # the lab has no Google: sign-in fails
    assert run.dialog is not None
    assert run.dialog.id == "no_google"
    press(run, "OK")
    press(run, "Skip")
    press(run, "Skip")
    assert run.current.id == "google_services"


def test_joining_wifi_moves_on_and_goes_online() -> None:
    world = World()
    run = android_one(world, seed=seed_where("android-one-9", "just_a_sec", shown=False))
    press(run, "Start")
    press(run, "Skip")
    press(run, "devicelab")
    assert world.online
    assert run.current.id == "copy_data"


def test_choices_become_settings() -> None:
    run = android_one(World(TELENOR))
    defaults = {(ns, k): v for ns, k, v in run.settings()}
    assert defaults[("secure", "location_mode")] == "3"
    assert defaults[("global", "multi_cb")] == "1"
    assert defaults[("global", "evenwell_dataagent_enabled")] == "1"
    assert defaults[("secure", "user_setup_complete")] == "1"
    assert defaults[("global", "device_provisioned")] == "1"
    run.toggle("location")
    run.toggle("diagnostics")
    run.toggle("oem_analytics")
    chosen = {(ns, k): v for ns, k, v in run.settings()}
    assert chosen[("secure", "location_mode")] == "0"
    assert chosen[("secure", "location_providers_allowed")] == ""
    assert chosen[("global", "multi_cb")] == "0"
    assert chosen[("global", "send_action_app_error")] == "0"
    assert chosen[("global", "evenwell_dataagent_enabled")] == "0"
    assert chosen[("global", "wifi_scan_always_enabled")] == "1"


def test_back_returns_through_the_history_and_closes_dialogs() -> None:
    run = android_one(World())
    assert not run.back()  # nowhere to go from the first screen
    press(run, "Start")
    press(run, "Skip")
    press(run, "Set up offline")
    assert run.back()
    assert run.dialog is None
    assert run.current.id == "wifi"
    assert run.back()
    assert run.current.id == "insert_sim"


def test_more_scrolls_until_the_button_accepts() -> None:
    run = android_one(World())
    screen = next(s for s in run.wizard.screens if s.id == "google_services")
    run.act("goto:google_services")
    accept = screen.footer[-1]
    assert run.primary_label(screen, accept) == ("More", "more")
    run.act("more")
    run.act("more")
    assert run.primary_label(screen, accept) == ("Accept", "next")
    assert not run.scroll_forward(screen)


# -- the China flow -----------------------------------------------------------------------------
def test_china_telecom_sim_adds_the_carrier_screen() -> None:
    run = china(World(CHINA_TELECOM), seed=seed_where("hmd-china-9", "checking_updates", shown=False))
    press(run, "开始")
    assert run.current.id == "carrier_ct"
    assert "自注册" in run.current.description
    press(run, "我知道了")
    assert run.current.id == "wifi"


@pytest.mark.parametrize(("sim", "second"), [(None, "insert_sim"), (TELENOR, "wifi")])
def test_china_flow_varies_by_sim(sim: str | None, second: str) -> None:
    run = china(World(sim))
    press(run, "开始")
    assert run.current.id == second


def test_china_privacy_consent_must_be_ticked() -> None:
    run = china(World(TELENOR), seed=seed_where("hmd-china-9", "checking_updates", shown=False))
    press(run, "开始")
    press(run, "跳过")
    assert run.current.id == "privacy"
    with pytest.raises(AssertionError, match="disabled"):
        press(run, "同意")
    press(run, "不同意")
    assert run.dialog is not None
    press(run, "确定")
    assert run.current.id == "privacy"
    run.toggle("privacy_agreed")
    press(run, "同意")
    assert run.current.id == "ux_program"
    run.toggle("ux_program")
    press(run, "下一步")
    press(run, "跳过")
    press(run, "跳过")
    press(run, "开始使用")
    assert run.finished
    chosen = {(ns, k): v for ns, k, v in run.settings()}
    assert chosen[("global", "evenwell_privacy_agreed")] == "1"
    assert chosen[("global", "evenwell_ux_program")] == "0"


def test_the_odd_screen_is_seeded_per_boot() -> None:
    wizard = wizard_for_build("nokia7plus-00CN_3_340")
    odd = wizard.screen("checking_updates")
    outcomes = [WizardRun(wizard, World().env(f"B2N:{boot}"))._applies(odd) for boot in range(40)]
    assert True in outcomes
    assert False in outcomes
    again = [WizardRun(wizard, World().env(f"B2N:{boot}"))._applies(odd) for boot in range(40)]
    assert outcomes == again
