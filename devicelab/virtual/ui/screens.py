"""The setup wizard of a build family as data (`fixtures/wizards/NAME.yaml`), parsed into frozen
typed models, and the lookup of which wizard a build runs.

A wizard is an ordered list of screens; `next` moves to the following screen whose `when`
holds (and whose `chance` roll, seeded per boot, passes). Dialogs are screens of kind `dialog`
that a button opens over the current one. Actions (buttons, list items):

    next            the next screen of the flow (from a dialog: close it, then next)
    back            the previous screen
    dismiss         close the dialog
    finish          the wizard is done: choices are written to settings, home appears
    wifi            join the lab's Wi-Fi, then next
    goto:ID         jump to screen ID
    dialog:ID       open dialog ID over this screen
    key:NAME        press a key (back, home, recent)
    none            nothing happens (a feature the lab does not model)
"""

from __future__ import annotations

import fnmatch
import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from devicelab.errors import ConfigError
from devicelab.model.builds import FIXTURES
from devicelab.model.data import Frozen, load

WIZARDS_DIR = FIXTURES / "wizards"

ACTION = re.compile(r"^(next|back|dismiss|finish|wifi|none|(goto|dialog):[a-z0-9_]+|key:(back|home|recent))$")
NAMESPACE = Literal["global", "secure", "system"]


class Setting(Frozen):
    """Where a choice is written when the wizard completes (`settings put NS KEY VALUE`)."""

    namespace: NAMESPACE
    key: str = Field(pattern=r"^[a-z0-9_.]+$")
    checked: str = "1"  # the value written when the switch is on
    unchecked: str = "0"


class Condition(Frozen):
    """When a screen or widget appears: the SIM in the slot and the network at that moment."""

    sim: Literal["absent", "present"] | None = None
    #: MCC+MNC of the SIMs this applies to (any other SIM: it does not)
    operators: tuple[str, ...] = ()
    network: Literal["online", "offline"] | None = None


class Widget(Frozen):
    """One thing on a screen."""

    kind: Literal["text", "button", "switch", "checkbox", "item", "spinner", "edit", "progress"]
    #: resource id; a bare name gets the screen's package prefix (`start` -> `PKG:id/start`)
    id: str = ""
    text: str = ""
    summary: str = ""
    desc: str = ""
    action: str = "none"
    #: the choice a switch, checkbox or text field holds
    key: str = Field(default="", pattern=r"^[a-z0-9_]*$")
    default: bool = False
    settings: tuple[Setting, ...] = ()
    #: a key whose switch/checkbox must be on for this widget to be enabled
    enabled_when: str = ""
    when: Condition | None = None

    @field_validator("action")
    @classmethod
    def _action_grammar(cls, value: str) -> str:
        if not ACTION.match(value):
            raise ValueError("expected next, back, dismiss, finish, wifi, none, goto:ID, dialog:ID or key:NAME")
        return value

    @model_validator(mode="after")
    def _keyed(self) -> Widget:
        if self.kind in ("switch", "checkbox", "edit") and not self.key:
            raise ValueError(f"a {self.kind} needs a key")
        if self.settings and self.kind not in ("switch", "checkbox"):
            raise ValueError("only a switch or checkbox writes settings")
        return self


class Screen(Frozen):
    """One screen of the wizard (or an injected one)."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: Literal["page", "dialog", "interstitial"] = "page"
    package: str
    activity: str
    title: str = ""
    #: resource id of the title view
    title_id: str = "suw_layout_title"
    description: str = ""
    widgets: tuple[Widget, ...] = ()
    #: the bottom bar: secondary (left) first, primary (right) last; dialogs: button2, button1
    footer: tuple[Widget, ...] = ()
    #: the primary button reads `more_text` and scrolls, `more` times, before it does its action
    more: int = Field(default=0, ge=0, le=10)
    more_text: str = "More"
    when: Condition | None = None
    chance: float = Field(default=1.0, ge=0.0, le=1.0)
    #: an interstitial moves on by itself after this many seconds of device time
    auto_advance: float | None = Field(default=None, gt=0, le=600)
    cancelable: bool = True

    @property
    def component(self) -> str:
        """`pkg/.Activity`, as `dumpsys window` and `am` print it."""
        return f"{self.package}/{self.activity}"

    def resource(self, name: str) -> str:
        if not name or ":" in name:
            return name
        return f"{self.package}:id/{name}"

    def all_widgets(self) -> tuple[Widget, ...]:
        return self.widgets + self.footer


class HomeApp(Frozen):
    label: str
    package: str


class Home(Frozen):
    """The launcher the handset shows once set up."""

    package: str
    activity: str
    hotseat: tuple[HomeApp, ...] = ()
    apps: tuple[HomeApp, ...] = ()
    search_hint: str = "Search"

    @property
    def component(self) -> str:
        return f"{self.package}/{self.activity}"


class SettingValue(Frozen):
    namespace: NAMESPACE
    key: str
    value: str


class Wizard(Frozen):
    """The setup wizard of one build family."""

    family: str = Field(pattern=r"^[a-z0-9-]+$")
    description: str = ""
    #: build names (fnmatch patterns) that run this wizard
    builds: tuple[str, ...] = Field(min_length=1)
    locale: str
    screens: tuple[Screen, ...] = Field(min_length=1)
    home: Home
    #: written when the wizard completes, after the choices
    on_finish: tuple[SettingValue, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Wizard:
        ids = [s.id for s in self.screens]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"screen {dupes[0]!r} is listed twice")
        if self.screens[0].kind != "page":
            raise ValueError("the first screen must be a page")
        keys = {w.key for s in self.screens for w in s.all_widgets() if w.key}
        for screen in self.screens:
            for widget in screen.all_widgets():
                target = widget.action.partition(":")[2]
                if widget.action.startswith(("goto:", "dialog:")) and target not in ids:
                    raise ValueError(f"screen {screen.id!r}: action {widget.action!r} names no screen")
                if widget.action.startswith("dialog:") and self.screen(target).kind != "dialog":
                    raise ValueError(f"screen {screen.id!r}: {target!r} is not a dialog")
                if widget.enabled_when and widget.enabled_when not in keys:
                    raise ValueError(f"screen {screen.id!r}: enabled_when {widget.enabled_when!r} is no key")
        if not any(w.action == "finish" for s in self.screens for w in s.all_widgets()):
            raise ValueError("no screen has a button that finishes the wizard")
        return self

    def screen(self, screen_id: str) -> Screen:
        return next(s for s in self.screens if s.id == screen_id)

    def defaults(self) -> dict[str, bool]:
        """The initial state of every switch and checkbox."""
        return {w.key: w.default for s in self.screens for w in s.all_widgets() if w.kind in ("switch", "checkbox")}


def load_wizard_file(path: Path) -> Wizard:
    wizard = load(Wizard, path)
    if wizard.family != path.stem:
        raise ConfigError(str(path), "family", f"is {wizard.family!r} but the file is named {path.stem!r}")
    return wizard


@cache
def load_wizards(wizards_dir: Path = WIZARDS_DIR) -> tuple[Wizard, ...]:
    return tuple(load_wizard_file(p) for p in sorted(wizards_dir.glob("*.yaml")))


def wizard_for_build(build_name: str, wizards_dir: Path = WIZARDS_DIR) -> Wizard:
    """The wizard whose `builds` patterns match the build; the most specific pattern wins."""
    best: tuple[int, Wizard] | None = None
    for wizard in load_wizards(wizards_dir):
        for pattern in wizard.builds:
            if fnmatch.fnmatchcase(build_name, pattern):
                score = len(pattern.replace("*", "").replace("?", ""))
                if best is None or score > best[0]:
                    best = (score, wizard)
    if best is None:
        raise ConfigError(str(wizards_dir), "builds", f"no wizard matches build {build_name!r}")
    return best[1]
