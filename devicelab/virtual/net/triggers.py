"""Screen-on and unlock, seen from the apps: derived from the input the system receives.

The watcher subscribes to `system.input` (where the shell's `input keyevent` and the UI's key
presses are published) and looks at the screen state once the event has been applied:

- screen off -> on (POWER, WAKEUP): `screen_on`; the keyguard is showing.
- MENU (82) while the screen is on and the keyguard shows, or an `InputEvent(kind=
  "dismiss-keyguard")` (`wm dismiss-keyguard`): `unlock`. Without a secure lock, MENU dismisses
  the keyguard on Android 9, which is why test scripts send `input keyevent 82`.
- screen on -> off: the keyguard comes back.
The keyguard also shows after each boot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from devicelab.virtual.events import InputEvent

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem

KEYCODE_MENU = 82
DISMISS_KEYGUARD = "dismiss-keyguard"


class KeyguardWatcher:
    def __init__(self, system: AndroidSystem, on_screen_on: Callable[[], None], on_unlock: Callable[[], None]) -> None:
        self.system = system
        self.on_screen_on = on_screen_on
        self.on_unlock = on_unlock
        self.locked = True
        self._screen = system.screen_on
        self._unsubscribe = system.input.subscribe(self._on_input)

    def close(self) -> None:
        self._unsubscribe()

    def _on_input(self, event: InputEvent) -> bool:
        # the system (or the UI) applies the event after its subscribers: look once it is done
        asyncio.get_running_loop().call_soon(self._after, event)
        return False

    def _after(self, event: InputEvent) -> None:
        screen = self.system.screen_on
        if screen and not self._screen:
            self.locked = True
            self.on_screen_on()
        elif not screen and self._screen:
            self.locked = True
        self._screen = screen
        unlock_key = event.kind == "keyevent" and event.keycode == KEYCODE_MENU
        if screen and self.locked and (unlock_key or event.kind == DISMISS_KEYGUARD):
            self.locked = False
            self.on_unlock()
