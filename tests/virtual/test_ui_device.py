"""The virtual screen of a booted handset: the wizard on first boot, touches and keys, the
settings it writes, the launcher, focus, injected dialogs and screenshots."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from PIL import Image

from devicelab.virtual.events import InputEvent
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.identity import HardwareIdentity
from devicelab.virtual.ui.device import UiState, UiUnavailable, ui_state
from devicelab.virtual.ui.faults import anr_dialog, update_dialog
from devicelab.virtual.ui.hierarchy import ViewNode, iter_nodes
from devicelab.virtual.ui.hooks import attach, current_png, focused_component, inject_screen
from devicelab.virtual.ui.render import screenshot
from devicelab.virtual.ui.screens import wizard_for_build

from .ui_helpers import boot

T = TypeVar("T")
SUW = "com.google.android.setupwizard"


def run(test: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(test(), 20))


def node(ui: UiState, *, text: str = "", rid: str = "") -> ViewNode:
    for n in iter_nodes(ui.windows()):
        if (text and n.text == text) or (rid and n.resource_id == rid):
            return n
    raise AssertionError(f"nothing reads {text or rid!r} on {ui.focus()}")


def tap(ui: UiState, *, text: str = "", rid: str = "") -> None:
    ui.tap(*node(ui, text=text, rid=rid).bounds.center())


def seen(ui: UiState) -> set[str]:
    return {n.text for n in iter_nodes(ui.windows()) if n.text}


async def finish_android_one(ui: UiState) -> None:
    """Through the Google flow with no SIM, taking every default, by tapping."""
    tap(ui, rid=f"{SUW}:id/start")
    tap(ui, text="Skip")
    tap(ui, text="Set up offline")
    tap(ui, rid="android:id/button1")
    if ui.wizard is not None and ui.wizard.current.kind == "interstitial":
        ui.system.clock.jump(3)  # "Just a sec…" moves on by itself
        ui.tick()
    tap(ui, text="Next")  # date & time
    for label in ("More", "More", "Accept"):
        tap(ui, text=label)
    tap(ui, text="Not now")
    tap(ui, rid="android:id/button1")
    tap(ui, text="Accept")
    tap(ui, text="No thanks")


def test_first_boot_shows_the_wizard_and_publishes_focus() -> None:
    async def test() -> None:
        handset = await boot()
        ui = ui_state(handset)
        assert ui.wizard is not None
        assert handset.system is not None
        assert handset.system.focused_activity == f"{SUW}/.SetupWizardActivity"
        assert focused_component(handset) == f"{SUW}/.SetupWizardActivity"
        nav = {n.desc for n in iter_nodes(ui.windows()) if n.package == "com.android.systemui" and n.clickable}
        assert nav == {"Back"}  # the wizard hides home and overview
        assert ui.press("home")
        assert ui.wizard.current.id == "welcome"
        assert not ui.press("no_such_key")

    run(test)


def test_the_whole_wizard_by_taps_writes_settings_and_shows_home() -> None:
    async def test() -> None:
        handset = await boot()
        ui = ui_state(handset)
        assert handset.system is not None
        settings = handset.system.settings
        assert settings("secure")["user_setup_complete"] == "0"
        await finish_android_one(ui)
        assert ui.wizard is None
        assert settings("secure")["user_setup_complete"] == "1"
        assert settings("global")["device_provisioned"] == "1"
        assert settings("secure")["location_mode"] == "3"
        assert settings("global")["multi_cb"] == "1"
        assert settings("global")["evenwell_ux_program"] == "1"
        assert handset.system.setup_complete()
        assert handset.system.focused_activity == "com.google.android.apps.nexuslauncher/.NexusLauncherActivity"
        assert {"Phone", "Chrome", "Play Store"} <= seen(ui)
        node(ui, rid="com.google.android.apps.nexuslauncher:id/hotseat")
        nav = {n.desc for n in iter_nodes(ui.windows()) if n.package == "com.android.systemui" and n.clickable}
        assert nav == {"Back", "Home", "Overview"}

    run(test)


def test_switches_toggle_and_their_choice_is_written() -> None:
    async def test() -> None:
        handset = await boot()
        ui = ui_state(handset)
        assert ui.wizard is not None
        ui.act("goto:google_services")
        switch = node(ui, rid="com.google.android.gms:id/location_switch")
        assert switch.checked
        ui.tap(*switch.bounds.center())
        assert not node(ui, rid="com.google.android.gms:id/location_switch").checked
        tap(ui, text="More")
        tap(ui, text="More")
        diagnostics = node(ui, rid="com.google.android.gms:id/usage_reporting_switch")  # below the fold at first
        ui.tap(*diagnostics.bounds.center())
        assert not ui.tap(-5, -5)  # off the screen
        ui.act("finish")
        assert ui.wizard is None
        assert handset.system is not None
        assert handset.system.settings("secure")["location_mode"] == "0"
        assert handset.system.settings("global")["multi_cb"] == "0"

    run(test)


def test_views_below_the_fold_are_not_in_the_tree() -> None:
    async def test() -> None:
        ui = ui_state(await boot())
        ui.act("goto:google_services")
        assert "Send usage and diagnostic data" not in seen(ui)
        scroll = node(ui, rid="com.google.android.gms:id/suw_scroll_view")
        assert scroll.scrollable
        ui.swipe(540, 1500, 540, 500)  # finger up: forward
        ui.swipe(540, 1500, 540, 500)
        assert "Send usage and diagnostic data" in seen(ui)
        assert "Accept" in seen(ui)

    run(test)


def test_factory_reset_brings_the_wizard_back_and_reboot_keeps_setup() -> None:
    async def test() -> None:
        handset = await boot()
        await finish_android_one(ui_state(handset))
        android_id = handset.userdata.android_id
        await handset.power_off()
        with pytest.raises(UiUnavailable):
            ui_state(handset)
        await handset.power_on()
        await handset.wait_for_state(BootState.BOOTED, 5)
        assert ui_state(handset).wizard is None  # set up stays set up
        handset.factory_reset()
        await handset.power_off()
        await handset.power_on()
        ui = ui_state(handset)
        assert ui.wizard is not None
        assert ui.wizard.current.id == "welcome"
        assert handset.userdata.android_id != android_id

    run(test)


def test_shell_input_reaches_the_screen() -> None:
    async def test() -> None:
        handset = await boot()
        ui = ui_state(handset)
        system = handset.system
        assert system is not None
        x, y = node(ui, rid=f"{SUW}:id/start").bounds.center()
        system.inject_input(InputEvent(kind="tap", time=0.0, x=x, y=y))
        assert ui.wizard is not None
        assert ui.wizard.current.id == "insert_sim"
        system.inject_input(InputEvent(kind="keyevent", time=0.0, keycode=4))  # BACK
        assert ui.wizard.current.id == "welcome"
        system.inject_input(InputEvent(kind="keyevent", time=0.0, keycode=26))  # POWER
        assert not system.screen_on
        assert screenshot(handset).getbbox() is None  # a dark screen

    run(test)


def test_text_fields_take_typing() -> None:
    async def test() -> None:
        ui = ui_state(await boot(sim="telenor-no"))
        ui.act("goto:google_account")
        field = node(ui, rid="com.google.android.gms:id/identifierId")
        assert (field.text, field.hint) == ("", "Email or phone")
        assert not ui.type_text("x")  # nothing has focus yet
        assert ui.set_text(field, "qa@example.com")
        assert ui.type_text(".no")
        assert node(ui, rid="com.google.android.gms:id/identifierId").text == "qa@example.com.no"
        assert not ui.set_text(node(ui, text="Skip"), "nope")

    run(test)


def test_am_start_brings_an_app_to_the_front_and_back_returns_home() -> None:
    async def test() -> None:
        handset = await boot()
        ui = ui_state(handset)
        await finish_android_one(ui)
        assert handset.system is not None
        handset.system.start_activity("com.android.settings/.Settings")
        assert ui.package == "com.android.settings"
        assert "Settings" in seen(ui)
        ui.press("back")
        assert handset.system.focused_activity == "com.google.android.apps.nexuslauncher/.NexusLauncherActivity"
        tap(ui, text="Camera")
        assert ui.package == "com.hmdglobal.camera2"
        ui.press("home")
        assert ui.package == "com.google.android.apps.nexuslauncher"

    run(test)


def test_the_interstitial_moves_on_by_itself() -> None:
    async def test() -> None:
        handset = await boot()
        ui = ui_state(handset)
        assert ui.wizard is not None
        handset.clock.scale = 100.0  # 2 s of device time in 20 ms
        ui.act("goto:just_a_sec")
        assert handset.system is not None
        assert handset.system.focused_activity.endswith(".update.CheckingForUpdatesActivity")
        await asyncio.sleep(0.2)  # no one asks: the screen's own timer moves it on
        assert not handset.system.focused_activity.endswith(".update.CheckingForUpdatesActivity")

    run(test)


def test_an_injected_dialog_appears_at_the_next_screen_change() -> None:
    async def test() -> None:
        handset = await boot()
        ui = ui_state(handset)
        inject_screen(handset, update_dialog())
        assert ui.overlay is None
        tap(ui, rid=f"{SUW}:id/start")
        assert ui.overlay is not None
        assert ui.focus() == "com.evenwell.fota/.UpdateDialogActivity"
        frame = ui.frame()
        assert frame.active is frame.windows[0]  # selectors search the dialog now
        assert frame.active.package == "com.evenwell.fota"
        assert "System update available" in seen(ui)
        ui.tap(540, 100)  # outside the dialog: it goes away
        assert ui.overlay is None
        assert ui.wizard is not None
        assert ui.wizard.current.id == "insert_sim"

    run(test)


def test_an_anr_dialog_only_goes_with_its_buttons() -> None:
    async def test() -> None:
        handset = await boot()
        ui = ui_state(handset)
        inject_screen(handset, anr_dialog(), now=True)
        assert "Setup Wizard isn't responding" in seen(ui)
        ui.press("back")
        ui.tap(540, 100)
        assert ui.overlay is not None
        tap(ui, rid="android:id/aerr_wait")
        assert ui.overlay is None

    run(test)


def test_screenshots_are_readable_images() -> None:
    async def test() -> None:
        handset = await boot()
        png = current_png(handset)
        img = Image.open(io.BytesIO(png))
        assert img.size == (1080, 2160)
        ui = ui_state(handset)
        start = node(ui, rid=f"{SUW}:id/start").bounds
        assert img.convert("RGB").getpixel((start.left + 8, start.top + 8)) == (26, 115, 232)  # a blue button
        assert img.convert("RGB").getpixel((540, 1500)) == (255, 255, 255)  # a white page
        ui.act("dialog:setup_offline")
        dimmed = Image.open(io.BytesIO(current_png(handset))).convert("RGB").getpixel((540, 200))
        assert dimmed != (255, 255, 255)

    run(test)


def test_no_system_no_screen() -> None:
    handset = VirtualHandset("off", HardwareIdentity.generate("off"))
    with pytest.raises(UiUnavailable, match="no Android system"):
        ui_state(handset)


WIZARD_SCREENS = [(build, screen.id) for build in ("nokia7plus-00WW_3_22C", "nokia7plus-00CN_3_340")
                  for screen in wizard_for_build(build).screens]


@pytest.mark.parametrize(("build", "screen_id"), WIZARD_SCREENS)
def test_every_wizard_screen_renders_and_dumps(build: str, screen_id: str) -> None:
    async def test() -> None:
        handset = await boot(build, sim="china-telecom")
        ui = ui_state(handset)
        assert ui.wizard is not None
        screen = ui.wizard.wizard.screen(screen_id)
        if screen.kind == "dialog":
            ui.wizard.dialog = screen
        else:
            ui.act(f"goto:{screen_id}")
        assert ui.focus() == screen.component
        assert screen.title in seen(ui)
        img = screenshot(handset)
        assert img.size == (1080, 2160)
        assert len(img.getcolors(1 << 16) or []) > 20  # text and controls, not a blank page

    run(test)


def test_each_wizard_activity_is_started_through_the_system() -> None:
    async def test() -> None:
        handset = await boot(sim="telenor-no")
        system = handset.system
        assert system is not None
        ui = attach(handset)
        ui.act("goto:google_account")
        assert system.focused_activity == "com.google.android.gms/.auth.uiflows.minutemaid.MinuteMaidActivity"
        assert system.processes.by_name("com.google.android.gms")  # its process was started
        starts = [e.message for e in system.logcat.entries if e.tag == "ActivityManager" and "START" in e.message]
        assert any("MinuteMaidActivity" in line for line in starts)
        ui.act("dialog:skip_account")  # a dialog of the same activity starts nothing
        assert len([e for e in system.logcat.entries if "START" in e.message]) == len(starts)

    run(test)


def test_screens_render_without_any_installed_font(monkeypatch: pytest.MonkeyPatch) -> None:
    from devicelab.virtual.ui import render

    monkeypatch.setattr(render, "_FONT_DIRS", ())
    render.font.cache_clear()
    render._font_file.cache_clear()
    try:
        handset = run(lambda: boot("nokia7plus-00CN_3_340"))
        img = screenshot(handset)
        assert len(img.getcolors(1 << 16) or []) > 20  # Pillow's own font still draws the text
    finally:
        render.font.cache_clear()
        render._font_file.cache_clear()
