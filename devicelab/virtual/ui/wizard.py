"""The setup wizard as a state machine over its data (devicelab.virtual.ui.screens).

It knows nothing of views or handsets: it is told about the world through `WizardEnv` (the SIM,
the network, device time, a per-boot seed) and answers which screen and dialog are showing,
what each switch holds, and, once finished, which settings to write.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from devicelab.virtual.ui.screens import Condition, Screen, Widget, Wizard


@dataclass
class WizardEnv:
    """What the wizard can see of the handset."""

    sim_mccmnc: Callable[[], str | None]  # None: no SIM
    online: Callable[[], bool]
    join_wifi: Callable[[], None]
    now: Callable[[], float]  # device seconds
    seed: str  # differs per handset and per boot


def condition_holds(cond: Condition | None, env: WizardEnv) -> bool:
    if cond is None:
        return True
    mccmnc = env.sim_mccmnc()
    if cond.sim == "absent" and mccmnc is not None:
        return False
    if cond.sim == "present" and mccmnc is None:
        return False
    if cond.operators and mccmnc not in cond.operators:
        return False
    return cond.network is None or (cond.network == "online") == env.online()


class WizardRun:
    """One pass through the wizard, from the first screen to `finish`."""

    def __init__(self, wizard: Wizard, env: WizardEnv) -> None:
        self.wizard = wizard
        self.env = env
        self.values: dict[str, bool] = wizard.defaults()
        self.texts: dict[str, str] = {}
        self.history: list[str] = []  # screens shown, for back
        self.visited: list[str] = []  # every screen shown, in order (tests, reports)
        self.scroll: dict[str, int] = {}
        self.dialog: Screen | None = None
        self.finished = False
        self.current = wizard.screens[0]
        self._entered_at = env.now()
        self.visited.append(self.current.id)

    # -- what is showing -----------------------------------------------------------------
    def tick(self) -> bool:
        """Let time pass: an interstitial whose time is up moves on. True if the screen changed."""
        screen = self.current
        if self.finished or screen.auto_advance is None or self.dialog is not None:
            return False
        if self.env.now() - self._entered_at < screen.auto_advance:
            return False
        self._advance()
        return True

    def shows(self, widget: Widget) -> bool:
        return condition_holds(widget.when, self.env)

    def enabled(self, widget: Widget) -> bool:
        return not widget.enabled_when or self.values.get(widget.enabled_when, False)

    def primary_label(self, screen: Screen, widget: Widget) -> tuple[str, str]:
        """(text, action) of a footer button, which reads "More" until the page is scrolled."""
        if screen.more and widget is screen.footer[-1] and self.scroll.get(screen.id, 0) < screen.more:
            return screen.more_text, "more"
        return widget.text, widget.action

    # -- input ---------------------------------------------------------------------------
    def act(self, action: str) -> None:
        """Do what a button or list item says (devicelab.virtual.ui.screens action grammar)."""
        if self.finished:
            return
        verb, _, target = action.partition(":")
        if self.dialog is not None and verb != "more":
            self.dialog = None
            if verb in ("dismiss", "back"):
                return
        if verb == "next":
            self._advance()
        elif verb == "back":
            self.back()
        elif verb == "finish":
            self.finished = True
        elif verb == "wifi":
            self.env.join_wifi()
            self._advance()
        elif verb == "goto":
            self._show(self.wizard.screen(target))
        elif verb == "dialog":
            self.dialog = self.wizard.screen(target)
        elif verb == "more":
            self.scroll_forward(self.current)

    def scroll_forward(self, screen: Screen, limit: int | None = None) -> bool:
        """One page down; False when already at the end."""
        done = self.scroll.get(screen.id, 0)
        end = screen.more if limit is None else max(screen.more, limit)
        if done >= end:
            return False
        self.scroll[screen.id] = done + 1
        return True

    def scroll_backward(self, screen: Screen) -> bool:
        done = self.scroll.get(screen.id, 0)
        if done <= 0:
            return False
        self.scroll[screen.id] = done - 1
        return True

    def toggle(self, key: str) -> None:
        if key in self.values:
            self.values[key] = not self.values[key]

    def set_text(self, key: str, text: str) -> None:
        self.texts[key] = text

    def back(self) -> bool:
        """The back key: close a cancelable dialog, else the previous screen. False if nowhere to go."""
        if self.dialog is not None:
            if not self.dialog.cancelable:
                return False
            self.dialog = None
            return True
        if not self.history:
            return False
        previous = self.history.pop()
        self._enter(self.wizard.screen(previous))
        return True

    # -- moving --------------------------------------------------------------------------
    def _advance(self) -> None:
        ids = [s.id for s in self.wizard.screens]
        for screen in self.wizard.screens[ids.index(self.current.id) + 1 :]:
            if screen.kind != "dialog" and self._applies(screen):
                self._show(screen)
                return
        self.finished = True

    def _applies(self, screen: Screen) -> bool:
        if not condition_holds(screen.when, self.env):
            return False
        if screen.chance >= 1.0:
            return True
        roll = random.Random(f"{self.env.seed}:{self.wizard.family}:{screen.id}").random()
        return roll < screen.chance

    def _show(self, screen: Screen) -> None:
        if self.current.kind != "interstitial":
            self.history.append(self.current.id)
        self._enter(screen)
        self.visited.append(screen.id)

    def _enter(self, screen: Screen) -> None:
        self.current = screen
        self.dialog = None
        self._entered_at = self.env.now()

    # -- the outcome ---------------------------------------------------------------------
    def settings(self) -> list[tuple[str, str, str]]:
        """(namespace, key, value) to write on completion: every choice, then `on_finish`."""
        out: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for screen in self.wizard.screens:
            for widget in screen.all_widgets():
                if widget.key in seen or not widget.settings:
                    continue
                seen.add(widget.key)
                on = self.values.get(widget.key, widget.default)
                out += [(s.namespace, s.key, s.checked if on else s.unchecked) for s in widget.settings]
        out += [(v.namespace, v.key, v.value) for v in self.wizard.on_finish]
        return out
