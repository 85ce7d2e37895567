"""What the virtual handset's screen shows and how it reacts to touches and keys.

One `UiState` per boot (it lives as long as the handset's AndroidSystem): the setup wizard
until it completes (again after every factory reset), then the launcher and launched apps; an
injected dialog may sit on top. Everything runs on the lab's event loop.

The system's `focused_activity` stays the one truth about what is in front: the screen writes
it on every change, and follows it when someone else moves it (`am start`, `am force-stop`).
Input the shell injects (`input tap`, `input keyevent`) arrives through `system.input`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from devicelab.virtual.ui import display
from devicelab.virtual.ui.compose import Frame, compose
from devicelab.virtual.ui.hierarchy import ViewNode, hit_test
from devicelab.virtual.ui.screens import HomeApp, Screen, wizard_for_build
from devicelab.virtual.ui.wizard import WizardEnv, WizardRun

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem
    from devicelab.virtual.events import InputEvent
    from devicelab.virtual.handset import VirtualHandset

#: KeyEvent codes by the key names uiautomator's `pressKey` takes
KEYCODES = {
    "home": 3, "back": 4, "up": 19, "down": 20, "left": 21, "right": 22, "center": 23, "volume_up": 24,
    "volume_down": 25, "power": 26, "camera": 27, "enter": 66, "delete": 67, "del": 67, "menu": 82, "search": 84,
    "volume_mute": 164, "recent": 187, "sleep": 223, "wakeup": 224,
}
KEYNAMES = {code: name for name, code in reversed(KEYCODES.items())}


class UiUnavailable(RuntimeError):
    """The handset runs no Android system (off, bootloader, recovery)."""


class UiState:
    def __init__(self, handset: VirtualHandset, system: AndroidSystem) -> None:
        self.handset = handset
        self.system = system
        self.spec = wizard_for_build(system.build.name)
        env = WizardEnv(
            sim_mccmnc=lambda: handset.radio.sim.mccmnc if handset.radio.sim else None,
            online=self._online,
            join_wifi=self._join_wifi,
            now=system.clock.now,
            # a new roll on every boot, and a different series after each factory reset
            seed=f"{handset.hardware.serialno}:{handset.storage.userdata_generation}:{system.userdata.boot_count}",
        )
        self.wizard: WizardRun | None = None if system.setup_complete() else WizardRun(self.spec, env)
        self.app: HomeApp | None = None  # an app in front of the launcher (or of the wizard)
        self.app_component = ""
        self.overlay: Screen | None = None  # an injected dialog on top of everything
        self.pending: list[Screen] = []  # injected dialogs waiting for the next screen change
        self.toast: str | None = None
        self.clipboard: str | None = None
        self.focused_key = ""  # the text field that has focus
        self.version = 0  # bumps on every change
        self._timer: asyncio.TimerHandle | None = None
        self.unsubscribe = system.input.subscribe(self._on_input)
        self._shown = ""
        self._publish()

    # -- the world around the wizard -----------------------------------------------------
    def _online(self) -> bool:
        radio = self.handset.radio
        return radio.wifi_connected or (radio.sim is not None and radio.mobile_data)

    def _join_wifi(self) -> None:
        self.handset.radio.wifi_connected = True
        self.system.settings("global")["wifi_on"] = "1"
        self.system.logcat.write("WifiService", f'connect to "{self.handset.radio.wifi_ssid}"', pid=1000)

    def tick(self) -> None:
        """Catch up with the world: device time (interstitials move on), and focus changes
        made elsewhere."""
        if self.handset.system is not self.system:  # this boot is over
            return
        if self.system.focused_activity != self._shown:
            self._follow(self.system.focused_activity)
        if self.wizard is not None and self.wizard.tick():
            self._changed()

    def _follow(self, component: str) -> None:
        package = component.partition("/")[0]
        wizard_packages = {s.package for s in self.spec.screens}
        if package == self.spec.home.package or (self.wizard is not None and package in wizard_packages):
            self.app = None
        else:
            known = {a.package: a for a in (*self.spec.home.hotseat, *self.spec.home.apps)}
            self.app = known.get(package) or HomeApp(label=package.rsplit(".", 1)[-1].title(), package=package)
            self.app_component = component
        self._changed()

    # -- the picture ---------------------------------------------------------------------
    def frame(self) -> Frame:
        """The screen now: every window's view tree."""
        self.tick()
        return compose(self)

    def windows(self) -> list[ViewNode]:
        return self.frame().windows

    def focus(self) -> str:
        """The focused window's `package/activity`, as `dumpsys window` shows mCurrentFocus."""
        self.tick()
        return self._focus()

    def _focus(self) -> str:
        if self.overlay is not None:
            return self.overlay.component
        if self.app is not None:
            return self.app_component
        if self.wizard is not None:
            return (self.wizard.dialog or self.wizard.current).component
        return self.spec.home.component

    @property
    def package(self) -> str:
        return self.focus().partition("/")[0]

    # -- input ---------------------------------------------------------------------------
    def _on_input(self, event: InputEvent) -> bool:
        """`input ...` from the shell; True: handled here (the system's default is skipped)."""
        if event.kind == "tap":
            self.tap(event.x, event.y)
        elif event.kind in ("swipe", "draganddrop"):
            self.swipe(event.x, event.y, event.x2, event.y2)
        elif event.kind == "keyevent":
            self.press_code(event.keycode)
        elif event.kind == "text":
            self.type_text(event.text)
        else:
            return False
        return True

    def tap(self, x: float, y: float) -> bool:
        """A touch at (x, y); False when it is off the screen."""
        if not (0 <= x < display.WIDTH and 0 <= y < display.HEIGHT):
            return False
        frame = self.frame()
        if any(bar.bounds.contains(x, y) for bar in frame.bars):
            target = hit_test(frame.bars, x, y)
        elif frame.modal is not None and not frame.modal.bounds.contains(x, y):
            self._dialog_action("cancel")  # a touch outside a dialog cancels it
            return True
        else:
            target = hit_test([frame.active], x, y)
        if target is not None and target.enabled:
            self.act(target.action)
        return True

    def act(self, action: str) -> None:
        """Do what a view's action says."""
        verb, _, arg = action.partition(":")
        if verb in ("", "none", "scroll"):
            return
        if verb == "key":
            self.press(arg)
        elif verb == "launch":
            self.launch(arg)
        elif verb == "toggle":
            if self.wizard is not None:
                self.wizard.toggle(arg)
                self._changed(moved=False)
        elif verb == "edit":
            self.focused_key = arg
            self._changed(moved=False)
        elif self.overlay is not None or (self.wizard is not None and self.wizard.dialog is not None):
            self._dialog_action(action)
        elif self.wizard is not None:
            if verb == "more":
                self.wizard.scroll_forward(self.wizard.current, self.frame().scroll_pages)
            else:
                self.wizard.act(action)
            self._changed()

    def _dialog_action(self, action: str) -> None:
        """A dialog button's action, or `cancel` (a touch outside): cancelable dialogs only."""
        dialog = self.overlay or (self.wizard.dialog if self.wizard is not None else None)
        if dialog is None or action == "none" or (action == "cancel" and not dialog.cancelable):
            return
        action = "dismiss" if action == "cancel" else action
        if self.overlay is not None:
            self.overlay = None
            if action.partition(":")[0] not in ("dismiss", "back") and self.wizard is not None:
                self.wizard.act(action)
        elif self.wizard is not None:
            self.wizard.act(action)
        self._changed()

    def press(self, key: str) -> bool:
        """A key by uiautomator's name; False for a name it does not know."""
        key = key.lower()
        if key not in KEYCODES:
            return False
        if key in ("power", "sleep", "wakeup"):
            self.system.screen_on = {"power": not self.system.screen_on, "sleep": False, "wakeup": True}[key]
            return True
        self.system.screen_on = True
        if key == "back":
            if self.overlay is not None:
                if self.overlay.cancelable:
                    self.overlay = None
            elif self.app is not None:
                self.app = None
            elif self.wizard is not None:
                self.wizard.back()
            self._changed()
        elif key == "home" and self.wizard is None:  # the setup wizard disables home
            self.app = None
            self._changed()
        elif key in ("delete", "del") and self.wizard is not None and self.focused_key:
            self.wizard.texts[self.focused_key] = self.wizard.texts.get(self.focused_key, "")[:-1]
            self._changed(moved=False)
        return True

    def press_code(self, code: int) -> bool:
        name = KEYNAMES.get(code)
        return self.press(name) if name is not None else True

    def swipe(self, fx: float, fy: float, tx: float, ty: float) -> bool:
        """A vertical swipe scrolls a wizard page (finger up: forward)."""
        frame = self.frame()
        if self.wizard is None or frame.modal is not None or self.app is not None or abs(ty - fy) < 100:
            return True
        screen = self.wizard.current
        moved = (self.wizard.scroll_forward(screen, frame.scroll_pages) if ty < fy
                 else self.wizard.scroll_backward(screen))
        if moved:
            self._changed(moved=False)
        return True

    def scroll(self, forward: bool, *, to_end: bool = False) -> bool:
        """Scroll the wizard page; False when it cannot move."""
        if self.wizard is None or self.app is not None:
            return False
        frame, screen = self.frame(), self.wizard.current
        moved = False
        for _ in range(frame.scroll_pages + 1 if to_end else 1):
            step = (self.wizard.scroll_forward(screen, frame.scroll_pages) if forward
                    else self.wizard.scroll_backward(screen))
            moved = moved or step
        if moved:
            self._changed(moved=False)
        return moved

    def set_text(self, node: ViewNode, text: str) -> bool:
        """Type into an EditText (replacing its text); False for a view that takes no text."""
        if not node.editable or self.wizard is None or not node.key:
            return False
        self.wizard.set_text(node.key, text)
        self.focused_key = node.key
        self._changed(moved=False)
        return True

    def type_text(self, text: str) -> bool:
        """Text typed into the focused field (`input text`, paste)."""
        if self.wizard is None or not self.focused_key:
            return False
        self.wizard.texts[self.focused_key] = self.wizard.texts.get(self.focused_key, "") + text
        self._changed(moved=False)
        return True

    def launch(self, package: str) -> bool:
        """A launcher icon: start the app's activity through the system (`am start` does the same)."""
        component = self.system.launcher_activity(package) or f"{package}/.MainActivity"
        self.system.start_activity(component)
        self.tick()
        return True

    def inject(self, screen: Screen, *, now: bool = False) -> None:
        """Show an unexpected dialog: now, or at the next screen change."""
        if now:
            self.overlay = screen
            self._changed(moved=False)
        else:
            self.pending.append(screen)

    def inject_cleared(self) -> None:
        """The dialog in front went away by a hand the UI did not see (the control channel)."""
        self.overlay = None
        self._changed(moved=False)

    # -- bookkeeping ---------------------------------------------------------------------
    def _changed(self, *, moved: bool = True) -> None:
        if self.wizard is not None and self.wizard.finished:
            self._complete_wizard()
        if moved and self.pending and self.overlay is None and self._focus() != self._shown:
            self.overlay = self.pending.pop(0)
        self.version += 1
        self._publish()

    def _publish(self) -> None:
        """Tell the system what is in front, and wake up for the next timed screen change."""
        focus = self._focus()
        if focus == self.system.focused_activity:
            self._shown = focus
        elif self.overlay is not None:  # a system dialog is a window, not an activity
            self._shown = self.system.focused_activity = focus
        else:  # a new activity: its process starts, ActivityManager logs it
            self._shown = self.system.start_activity(focus)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        wait = self.wizard.current.auto_advance if self.wizard is not None else None
        if wait is not None:
            with contextlib.suppress(RuntimeError):  # no running loop (unit tests): tick() catches up
                self._timer = asyncio.get_running_loop().call_later(
                    self.system.clock.host_seconds(wait) + 0.01, self.tick)

    def _complete_wizard(self) -> None:
        assert self.wizard is not None
        for namespace, key, value in self.wizard.settings():
            self.system.settings(namespace)[key] = value
        self.system.logcat.write("SetupWizard", f"setup complete after {len(self.wizard.visited)} screens", pid=2310)
        self.wizard = None
        self.focused_key = ""
        self.system.go_home()


_ATTRIBUTE = "_devicelab_ui_state"  # kept on the system object: the screen lives and dies with it


def ui_state(handset: VirtualHandset) -> UiState:
    """The screen of the running system (created at first use after each boot)."""
    system = handset.system
    if system is None:
        raise UiUnavailable(f"{handset.name}: no Android system is running (state {handset.state})")
    state = getattr(system, _ATTRIBUTE, None)
    if not isinstance(state, UiState):
        state = UiState(handset, system)
        setattr(system, _ATTRIBUTE, state)
    return state
