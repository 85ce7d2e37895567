"""Recording a setup wizard someone walks by hand: each screen's hierarchy and screenshot, the
action guessed from the before/after hierarchies, and a draft flow in the `fixtures/flows/`
format; and checking a flow's screen recognition against saved dumps.

The dumps go next to the flow (`NAME.dumps/NN-screen.xml` and `.png`, and `screens.json` naming
the screen each dump is). Guessed steps are marked in the draft: a person reviews them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devicelab.flows.model import WizardFlow
from devicelab.flows.recognise import recognise
from devicelab.handset.hierarchy import Node, Snapshot, Window, parse

#: windows that are never the wizard (status and navigation bars)
SYSTEM_WINDOWS = ("com.android.systemui",)
#: texts and id fragments of the buttons that move a wizard on, best first
ADVANCE_TEXTS = ("Start", "Next", "Skip", "Accept", "I agree", "Agree", "Continue", "Don't copy", "Not now",
                 "More", "OK", "Done", "Set up offline", "开始", "下一步", "跳过", "同意", "接受", "完成")
ADVANCE_IDS = ("start", "next", "skip", "accept", "agree", "continue", "button1", "done", "more", "ok")
MAX_MATCH_IDS = 3


@dataclass
class Recorded:
    """One screen as recorded: its dump, the top window, and what moved it on (guessed)."""

    id: str
    window: Window
    dump: str
    screenshot: bytes
    action: Node | None = None


@dataclass
class Recording:
    """Screens in the order they were seen, and the home screen that ended the walk."""

    fingerprint: str
    screens: list[Recorded] = field(default_factory=list)
    home: Recorded | None = None


def top(snapshot: Snapshot) -> Window | None:
    return next((w for w in snapshot.windows if w.package not in SYSTEM_WINDOWS), None)


def key(window: Window) -> tuple[str, frozenset[str], str]:
    """What makes two dumps the same screen: package, ids, and its first text (the title)."""
    return window.package, frozenset(n.resource_id for n in window.nodes if n.resource_id), _title(window)


def _title(window: Window) -> str:
    return next((n.text for n in window.nodes if n.text.strip()), "")


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "screen"
    if base[0].isdigit():
        base = f"s_{base}"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}_{n}", n + 1
    return slug


def guess_action(before: Window, after: Window | None = None) -> Node | None:
    """The node a person most likely pressed to leave `before`: an enabled, clickable one whose
    words the next screen's title repeats ("Skip" -> "Skip account setup?"), else one that reads
    like a wizard's forward button; None when nothing does (a screen that passes by itself)."""
    echoed = _title(after).lower() if after is not None else ""
    best: tuple[int, int] | None = None
    found: Node | None = None
    for node in before.nodes:
        if node.checkable or not (node.clickable and node.enabled and (node.text or node.resource_id or node.desc)):
            continue  # a switch flips, it does not leave the screen
        short = node.resource_id.rpartition("/")[2].lower()
        score = 0
        if node.text in ADVANCE_TEXTS:
            score += 10 + len(ADVANCE_TEXTS) - ADVANCE_TEXTS.index(node.text)
        if any(part in short for part in ADVANCE_IDS):
            score += 8
        words = [w for w in (node.text.lower(), short.replace("_button", "").replace("_", " ")) if len(w) > 3]
        if echoed and any(re.search(rf"\b{re.escape(w)}\b", echoed) for w in words):
            score += 40
        rank = (score, node.bounds[1])  # lower on the screen breaks ties: the footer's buttons
        if score and (best is None or rank > best):
            best, found = rank, node
    return found


def record(read: Callable[[], tuple[str, bytes]], *, is_home: Callable[[Window], bool], fingerprint: str,
           timeout: float, interval: float = 0.5, clock: Callable[[], float] = time.monotonic) -> Recording:
    """Watch the screen (`read` returns the dump and a screenshot) until `is_home` or `timeout`."""
    recording = Recording(fingerprint)
    seen: set[tuple[str, frozenset[str], str]] = set()
    current: tuple[str, frozenset[str], str] | None = None
    taken: set[str] = set()
    end = clock() + timeout
    while clock() < end:
        xml, png = read()
        window = top(parse(xml))
        if window is not None and key(window) != current:
            current = key(window)
            if recording.screens and recording.screens[-1].action is None:
                recording.screens[-1].action = guess_action(recording.screens[-1].window, window)
            if is_home(window):
                recording.home = Recorded("home", window, xml, png)
                return recording
            if current not in seen:
                seen.add(current)
                screen_id = _slug(_title(window) or window.package.rpartition(".")[2], taken)
                taken.add(screen_id)
                recording.screens.append(Recorded(screen_id, window, xml, png))
        time.sleep(interval)
    return recording


def _target(node: Node, package: str) -> dict[str, str]:
    if node.resource_id:
        own = f"{package}:id/"
        return {"id": node.resource_id[len(own):] if node.resource_id.startswith(own) else node.resource_id}
    return {"text": node.text} if node.text else {"desc": node.desc}


def _match(window: Window) -> dict[str, Any]:
    own = f"{window.package}:id/"
    ids = []
    for node in window.nodes:
        rid = node.resource_id
        if rid.startswith(own) and rid[len(own):] not in ids:
            ids.append(rid[len(own):])
    match: dict[str, Any] = {"package": window.package, "ids": ids[:MAX_MATCH_IDS]}
    if _title(window):
        match["texts"] = [_title(window)]
    return match


def draft(recording: Recording, family: str, source: str) -> dict[str, Any]:
    """The flow file's data: every recorded screen with a guessed click, and the home screen."""
    if recording.home is None:
        raise ValueError("the walk did not reach the home screen: nothing to write")
    home = recording.home.window
    home_ids = [n.resource_id.rpartition("/")[2] for n in home.nodes if n.resource_id.startswith(f"{home.package}:")]
    screens: list[dict[str, Any]] = []
    for screen in recording.screens:
        if screen.action is None:  # nothing reads like a forward button: it went by itself
            screens.append({"id": screen.id, "kind": "wait", "match": _match(screen.window)})
            continue
        steps = [{"click": _target(screen.action, screen.window.package)}]
        screens.append({"id": screen.id, "match": _match(screen.window), "steps": steps})
    return {
        "family": family,
        "description": f"recorded from {source} (ids from a real dump of this handset; steps guessed: review them)",
        "fingerprints": [recording.fingerprint],
        "home": {"package": home.package, **({"ids": home_ids[:1]} if home_ids else {})},
        "finish_settings": [{"namespace": "secure", "key": "user_setup_complete", "value": "1"},
                            {"namespace": "global", "key": "device_provisioned", "value": "1"}],
        "screens": screens,
    }


def dumps_dir(flow_file: Path) -> Path:
    return flow_file.with_suffix(".dumps")


def save(recording: Recording, flow_file: Path, data: dict[str, Any]) -> None:
    """The flow (YAML), and beside it each screen's dump, screenshot and recorded name."""
    folder = dumps_dir(flow_file)
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    shots = [*recording.screens, *([recording.home] if recording.home else [])]
    for index, screen in enumerate(shots, 1):
        stem = f"{index:02d}-{screen.id}"
        (folder / f"{stem}.xml").write_text(screen.dump)
        if screen.screenshot:
            (folder / f"{stem}.png").write_bytes(screen.screenshot)
        names[f"{stem}.xml"] = screen.id
    (folder / "screens.json").write_text(json.dumps(names, indent=2) + "\n")
    header = ("# Recorded by `devicelab flow record`: the match ids and texts come from the dumps in "
              f"{folder.name}/ (real hierarchies of this handset); each click is guessed from the before/after "
              "hierarchies: check it (`devicelab flow check`), then review it by hand.\n")
    flow_file.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@dataclass(frozen=True)
class CheckedDump:
    dump: str
    expected: str
    recognised: str

    @property
    def ok(self) -> bool:
        return self.expected == self.recognised


def check(flow: WizardFlow, folder: Path) -> list[CheckedDump]:
    """Recognise every saved dump with the flow; each must be the screen it was recorded as."""
    names: dict[str, str] = json.loads((folder / "screens.json").read_text())
    found = []
    for dump, expected in sorted(names.items()):
        recognised = recognise(flow, parse((folder / dump).read_text()))
        found.append(CheckedDump(dump, expected, recognised.name))
    return found

