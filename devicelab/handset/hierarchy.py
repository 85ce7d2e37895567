"""A dumped window hierarchy as typed data: windows, and the nodes in each.

Reads both dialects a handset can return: uiautomator's `<hierarchy><node class=...>` (what
`dump_hierarchy` gives) and Appium's, where each element is named after its class. The first
child of `<hierarchy>` is the top window (the focused one: a dialog comes before the page under it).
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

_BOUNDS = re.compile(r"^\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]$")
#: a hierarchy larger than this is not a screen
MAX_HIERARCHY_CHARS = 8 * 1024 * 1024


class HierarchyError(ValueError):
    """The text is not a window hierarchy."""


@dataclass(frozen=True)
class Node:
    """One accessibility node."""

    cls: str
    package: str
    resource_id: str
    text: str
    desc: str
    bounds: tuple[int, int, int, int]
    checkable: bool = False
    checked: bool = False
    clickable: bool = False
    enabled: bool = True
    scrollable: bool = False

    @property
    def center(self) -> tuple[int, int]:
        left, top, right, bottom = self.bounds
        return (left + right) // 2, (top + bottom) // 2

    @property
    def visible(self) -> bool:
        left, top, right, bottom = self.bounds
        return right > left and bottom > top

    def describe(self) -> str:
        """How a person would name it in a message."""
        parts = [self.cls.rsplit(".", 1)[-1]]
        if self.resource_id:
            parts.append(self.resource_id)
        if self.text:
            parts.append(repr(self.text[:40]))
        elif self.desc:
            parts.append(f"desc={self.desc[:40]!r}")
        return " ".join(parts)


@dataclass(frozen=True)
class Window:
    """One window's nodes, in document order (its root first)."""

    package: str
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Snapshot:
    """The screen at one moment: its windows (top first) and the XML they came from."""

    windows: tuple[Window, ...]
    xml: str

    def nodes(self) -> tuple[Node, ...]:
        return tuple(node for window in self.windows for node in window.nodes)

    def signature(self) -> str:
        """Changes whenever what a person sees or can press changes (not on clock ticks alone)."""
        digest = hashlib.sha256()
        for window in self.windows:
            for n in window.nodes:
                if n.package == "com.android.systemui":
                    continue  # the status bar clock ticks on its own
                digest.update(f"{n.cls}|{n.resource_id}|{n.text}|{n.checked}|{n.enabled}|{n.bounds}\n".encode())
        return digest.hexdigest()


def _flag(element: ET.Element, name: str, default: bool = False) -> bool:
    value = element.get(name)
    return default if value is None else value == "true"


def _bounds(text: str) -> tuple[int, int, int, int]:
    match = _BOUNDS.match(text.strip())
    if match is None:
        return (0, 0, 0, 0)
    left, top, right, bottom = (int(v) for v in match.groups())
    return (left, top, right, bottom)


def _node(element: ET.Element) -> Node:
    return Node(
        cls=element.get("class") or element.tag,
        package=element.get("package", ""),
        resource_id=element.get("resource-id", ""),
        text=element.get("text", ""),
        desc=element.get("content-desc", ""),
        bounds=_bounds(element.get("bounds", "")),
        checkable=_flag(element, "checkable"),
        checked=_flag(element, "checked"),
        clickable=_flag(element, "clickable"),
        enabled=_flag(element, "enabled", default=True),
        scrollable=_flag(element, "scrollable"),
    )


def parse(xml: str) -> Snapshot:
    """Parse a dump; HierarchyError when it is not one."""
    if len(xml) > MAX_HIERARCHY_CHARS:
        raise HierarchyError(f"hierarchy of {len(xml)} characters is larger than {MAX_HIERARCHY_CHARS}")
    if "<!DOCTYPE" in xml or "<!ENTITY" in xml:
        raise HierarchyError("a window hierarchy has no DTD or entities")  # nothing to expand, ever
    try:
        root = ET.fromstring(xml.encode("utf-8"))  # noqa: S314 - DTDs and entities are refused above
    except ET.ParseError as exc:
        raise HierarchyError(f"not XML: {exc}") from None
    if root.tag != "hierarchy":
        raise HierarchyError(f"the root element is <{root.tag}>, not <hierarchy>")
    windows = []
    for top in root:
        nodes = tuple(_node(element) for element in top.iter() if element.get("class") or element.tag == "node")
        if nodes:
            windows.append(Window(package=nodes[0].package, nodes=nodes))
    return Snapshot(windows=tuple(windows), xml=xml)
