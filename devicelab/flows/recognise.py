"""Which screen a handset shows, from its dumped hierarchy and the flow's data.

Only the top window counts (system bars aside): a dialog over a page is the dialog, and an
unknown window over a known page is an unknown screen, not the page. Pop-ups win over the
flow's dialogs, dialogs over pages; among equals the more specific match wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from devicelab.flows.model import Match, Screen, Target, WizardFlow
from devicelab.handset.hierarchy import Node, Snapshot, Window

#: which kind wins when several match the same window
_RANK = {"popup": 4, "wait": 4, "dialog": 3, "page": 2}


@dataclass(frozen=True)
class Recognised:
    """What the top window is: the home screen, a screen of the flow (or a pop-up), or unknown."""

    kind: Literal["home", "screen", "unknown"]
    window: Window | None
    screen: Screen | None = None

    @property
    def name(self) -> str:
        if self.kind == "screen" and self.screen is not None:
            return self.screen.id
        return self.kind


def qualify(resource_id: str, package: str) -> str:
    """A bare id means an id of the window's own package."""
    if not resource_id or ":" in resource_id:
        return resource_id
    return f"{package}:id/{resource_id}"


def top_window(snapshot: Snapshot, system_windows: tuple[str, ...]) -> Window | None:
    for window in snapshot.windows:
        if window.package not in system_windows:
            return window
    return None


def matches(match: Match, window: Window) -> bool:
    if match.package is not None and window.package != match.package:
        return False
    ids = {n.resource_id for n in window.nodes if n.resource_id}
    texts = {n.text for n in window.nodes if n.text}
    pkg = window.package
    return (
        all(qualify(i, pkg) in ids for i in match.ids)
        and all(t in texts for t in match.texts)
        and (not match.any_ids or any(qualify(i, pkg) in ids for i in match.any_ids))
        and (not match.any_texts or any(t in texts for t in match.any_texts))
        and not any(qualify(i, pkg) in ids for i in match.absent_ids)
        and not any(t in texts for t in match.absent_texts)
    )


def recognise(flow: WizardFlow, snapshot: Snapshot) -> Recognised:
    window = top_window(snapshot, flow.system_windows)
    if window is None:
        return Recognised("unknown", None)
    best: tuple[int, int, int] | None = None
    found: Screen | None = None
    for order, screen in enumerate((*flow.popups, *flow.screens)):
        if matches(screen.match, window):
            score = (_RANK[screen.kind], screen.match.weight, -order)
            if best is None or score > best:
                best, found = score, screen
    if found is not None:
        return Recognised("screen", window, found)
    if matches(flow.home, window):
        return Recognised("home", window)
    return Recognised("unknown", window)


def find(target: Target, window: Window, values: Mapping[str, str]) -> Node | None:
    """The first visible node that has every attribute the target names."""
    wanted_id = qualify(target.id, window.package)
    wanted_text = target.text_for(values)
    for node in window.nodes:
        if not node.visible:
            continue
        if wanted_id and node.resource_id != wanted_id:
            continue
        if wanted_text and node.text != wanted_text:
            continue
        if target.desc and node.desc != target.desc:
            continue
        return node
    return None


def describe_window(window: Window | None, limit: int = 8) -> str:
    """A short summary for an error message: the package and the first texts (else ids)."""
    if window is None:
        return "no window but the system bars"
    labels: list[str] = []
    for node in window.nodes:
        if node.text and node.text not in labels:
            labels.append(node.text)
    if not labels:
        labels = [n.resource_id.rpartition("/")[2] for n in window.nodes if n.resource_id]
    return f"{window.package}: {', '.join(repr(s[:40]) for s in labels[:limit])}"
