"""First-boot flows as data (`fixtures/flows/*.yaml`), parsed into frozen typed models.

A flow is what the harness knows about one family of setup wizards: how to recognise each
screen from a dumped hierarchy, which switches on it carry a privacy choice (and the settings
that show the choice afterwards), and what to press to move on for each choice the test made.
`popups.yaml` holds the pop-ups any flow may meet (ANR dialogs, update prompts, "Just a sec…").

Resource ids may be bare (`start`): they mean an id in the package of the window being looked
at (`com.google.android.setupwizard:id/start`). Texts may name `{wifi_ssid}`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from devicelab.errors import ConfigError
from devicelab.model.builds import FIXTURES
from devicelab.model.data import Frozen, load, validate

FLOWS_DIR = FIXTURES / "flows"
POPUPS_FILE = "popups.yaml"
PLACEHOLDERS = ("wifi_ssid",)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
Namespace = Literal["global", "secure", "system"]


def _placeholders_known(value: str) -> str:
    for name in _PLACEHOLDER.findall(value):
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}; known: {', '.join(PLACEHOLDERS)}")
    return value


class Target(Frozen):
    """A node to press or read: every given attribute must hold."""

    id: str = ""
    text: str = ""
    desc: str = ""

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return _placeholders_known(value)

    @model_validator(mode="after")
    def _something(self) -> Target:
        if not (self.id or self.text or self.desc):
            raise ValueError("a target needs an id, a text or a desc")
        return self

    def describe(self, values: Mapping[str, str] | None = None) -> str:
        text = self.text_for(values or {})
        return " ".join(f"{k}={v!r}" for k, v in (("id", self.id), ("text", text), ("desc", self.desc)) if v)

    def text_for(self, values: Mapping[str, str]) -> str:
        """The text with its placeholders filled in."""
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.text)


class Match(Frozen):
    """How a window is recognised; every given condition must hold."""

    package: str | None = None
    ids: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    any_ids: tuple[str, ...] = ()
    any_texts: tuple[str, ...] = ()
    absent_ids: tuple[str, ...] = ()
    absent_texts: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> Match:
        positive = (self.package, self.ids, self.texts, self.any_ids, self.any_texts)
        if not any(positive):
            raise ValueError("a match needs a package, ids or texts")
        return self

    @property
    def weight(self) -> int:
        """How specific the match is: more conditions win over fewer."""
        return (self.package is not None) + len(self.ids) + len(self.texts) + bool(self.any_ids) + bool(
            self.any_texts) + len(self.absent_ids) + len(self.absent_texts)


class When(Frozen):
    """Choices a step applies to; an unset field means any."""

    wifi: bool | None = None
    account: bool | None = None
    consent: Literal["decline_all", "accept_all"] | None = None


class Step(Frozen):
    """Press a target (when the choices say so)."""

    click: Target
    when: When = When()


class SettingCheck(Frozen):
    """`settings get NAMESPACE KEY` after the flow: `checked` when the toggle was on, else `unchecked`."""

    namespace: Namespace
    key: str = Field(pattern=r"^[a-z0-9_.]+$")
    checked: str = "1"
    unchecked: str = "0"


class Toggle(Frozen):
    """A switch or checkbox the user decides on.

    `fixed` unset: the toggle is optional data sharing and follows the consent choice (decline
    all: off, accept all: on). `fixed` set: the flow always sets it so (a required agreement).
    """

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    target: Target
    fixed: bool | None = None
    #: the toggle may not be on every variant of the screen
    may_be_absent: bool = False
    settings: tuple[SettingCheck, ...] = ()


class Screen(Frozen):
    """One screen of a flow, or a pop-up."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: Literal["page", "dialog", "popup", "wait"] = "page"
    match: Match
    toggles: tuple[Toggle, ...] = ()
    #: done in order after the toggles; the last one that applies leaves the screen
    steps: tuple[Step, ...] = ()
    #: pressed to reveal content below the fold (else: swipe up)
    more: Target | None = None
    #: a `wait` screen must pass by itself within this many host seconds
    passes_within: float = Field(default=120.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _consistent(self) -> Screen:
        if self.kind == "wait":
            if self.steps or self.toggles:
                raise ValueError("a wait screen passes by itself: no steps or toggles")
        elif not self.steps:
            raise ValueError("a screen needs at least one step that leaves it")
        names = [t.name for t in self.toggles]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"toggle {dupes[0]!r} is listed twice")
        return self


class SettingValue(Frozen):
    namespace: Namespace
    key: str = Field(pattern=r"^[a-z0-9_.]+$")
    value: str


class Account(Frozen):
    """Whether the flow can sign in to an account; `reason` says why not."""

    supported: bool = False
    reason: str = ""


class WizardFlow(Frozen):
    """The first-boot flow of one family of builds."""

    family: str = Field(pattern=r"^[a-z0-9-]+$")
    description: str = ""
    #: build fingerprints (fnmatch patterns) that run this flow
    fingerprints: tuple[str, ...] = Field(min_length=1)
    account: Account = Account()
    home: Match
    screens: tuple[Screen, ...] = Field(min_length=1)
    #: settings every completed first boot shows
    finish_settings: tuple[SettingValue, ...] = ()
    #: filled from popups.yaml at load time
    popups: tuple[Screen, ...] = ()
    system_windows: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> WizardFlow:
        ids = [s.id for s in (*self.screens, *self.popups)]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"screen {dupes[0]!r} is listed twice")
        toggles = [t.name for s in self.screens for t in s.toggles]
        twice = sorted({n for n in toggles if toggles.count(n) > 1})
        if twice:
            raise ValueError(f"toggle {twice[0]!r} is on two screens")
        return self

    def toggles(self) -> tuple[Toggle, ...]:
        return tuple(t for s in self.screens for t in s.toggles)


class Popups(Frozen):
    """popups.yaml: pop-ups and windows every flow shares."""

    system_windows: tuple[str, ...] = ("com.android.systemui",)
    popups: tuple[Screen, ...] = ()

    @field_validator("popups")
    @classmethod
    def _kinds(cls, value: tuple[Screen, ...]) -> tuple[Screen, ...]:
        for screen in value:
            if screen.kind not in ("popup", "wait"):
                raise ValueError(f"{screen.id}: pop-ups are of kind popup or wait")
        return value


def load_flow_file(path: Path, popups: Popups | None = None) -> WizardFlow:
    """One flow file, with the shared pop-ups of its folder; ConfigError on the first bad field."""
    flow = load(WizardFlow, path)
    if flow.family != path.stem:
        raise ConfigError(str(path), "family", f"is {flow.family!r} but the file is named {path.stem!r}")
    if flow.popups or flow.system_windows:
        raise ConfigError(str(path), "popups", f"shared pop-ups belong in {POPUPS_FILE}")
    shared = popups if popups is not None else load_popups(path.parent)
    merged = {**flow.model_dump(), "popups": shared.popups, "system_windows": shared.system_windows}
    return validate(WizardFlow, merged, f"{path} (with {POPUPS_FILE})")


def load_popups(flows_dir: Path = FLOWS_DIR) -> Popups:
    path = flows_dir / POPUPS_FILE
    return load(Popups, path) if path.exists() else Popups()


@cache
def load_flows(flows_dir: Path = FLOWS_DIR) -> tuple[WizardFlow, ...]:
    popups = load_popups(flows_dir)
    return tuple(load_flow_file(p, popups) for p in sorted(flows_dir.glob("*.yaml")) if p.name != POPUPS_FILE)


def flow_for_fingerprint(fingerprint: str, flows_dir: Path = FLOWS_DIR) -> WizardFlow:
    """The flow whose fingerprint patterns match; the most specific pattern wins."""
    best: tuple[int, WizardFlow] | None = None
    for flow in load_flows(flows_dir):
        for pattern in flow.fingerprints:
            if fnmatch.fnmatchcase(fingerprint, pattern):
                score = len(pattern.replace("*", "").replace("?", ""))
                if best is None or score > best[0]:
                    best = (score, flow)
    if best is None:
        raise ConfigError(str(flows_dir), "fingerprints", f"no flow matches build fingerprint {fingerprint!r}")
    return best[1]
