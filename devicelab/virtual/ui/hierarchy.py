"""The view tree of the virtual screen and its two wire forms: the `<hierarchy><node .../>` XML
that `dumpWindowHierarchy` returns, and the ObjInfo dict of `objInfo`.

The tree holds only what a real dumper would show: views scrolled out of sight are left out
when the tree is built (devicelab.virtual.ui.views), as the u2 server skips invisible children.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

#: characters XML 1.0 cannot carry; the Android dumper writes "." instead
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufdd0-\ufddf\ufffe\uffff]")


@dataclass(frozen=True)
class Rect:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def empty(self) -> bool:
        return self.right <= self.left or self.bottom <= self.top

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x < self.right and self.top <= y < self.bottom

    def center(self) -> tuple[int, int]:
        return (self.left + self.right) // 2, (self.top + self.bottom) // 2

    def intersect(self, other: Rect) -> Rect:
        return Rect(
            max(self.left, other.left),
            max(self.top, other.top),
            max(min(self.right, other.right), max(self.left, other.left)),
            max(min(self.bottom, other.bottom), max(self.top, other.top)),
        )

    def shifted(self, dy: int) -> Rect:
        return Rect(self.left, self.top + dy, self.right, self.bottom + dy)

    def short(self) -> str:
        """Android's `Rect.toShortString()`: `[l,t][r,b]`."""
        return f"[{self.left},{self.top}][{self.right},{self.bottom}]"

    def as_dict(self) -> dict[str, int]:
        return {"bottom": self.bottom, "left": self.left, "right": self.right, "top": self.top}


@dataclass(eq=False)
class ViewNode:
    """One accessibility node, plus what the virtual screen needs to act and draw."""

    cls: str
    package: str
    bounds: Rect
    resource_id: str = ""
    text: str = ""
    desc: str = ""
    hint: str = ""
    checkable: bool = False
    checked: bool = False
    clickable: bool = False
    enabled: bool = True
    focusable: bool = False
    focused: bool = False
    scrollable: bool = False
    long_clickable: bool = False
    password: bool = False
    selected: bool = False
    editable: bool = False
    children: list[ViewNode] = field(default_factory=list)
    #: the full rectangle, when `bounds` is clipped by a scroll container
    full_bounds: Rect | None = None
    # -- behaviour and drawing; not part of any wire format --------------------------------
    action: str = ""  # what a click does (devicelab.virtual.ui.screens action grammar)
    key: str = ""  # the wizard choice a switch, checkbox or text field holds
    style: str = ""  # how render.py draws it
    lines: tuple[str, ...] = ()  # text as laid out, one entry per line
    font_px: int = 0

    def add(self, *children: ViewNode) -> ViewNode:
        self.children.extend(children)
        return self

    def walk(self) -> Iterator[ViewNode]:
        """Pre-order, as UiSelector searches."""
        yield self
        for child in self.children:
            yield from child.walk()


def iter_nodes(roots: list[ViewNode]) -> Iterator[ViewNode]:
    for root in roots:
        yield from root.walk()


def parent_map(roots: list[ViewNode]) -> dict[int, ViewNode]:
    """id(child) -> parent, for sibling searches."""
    parents: dict[int, ViewNode] = {}
    for node in iter_nodes(roots):
        for child in node.children:
            parents[id(child)] = node
    return parents


def _text(value: str) -> str:
    return _INVALID_XML.sub(".", value)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _is_naf(node: ViewNode) -> bool:
    """Clickable with no text or description anywhere below: Not Accessibility Friendly."""
    if not (node.clickable and node.enabled) or node.text or node.desc:
        return False
    return not any(n.text or n.desc for n in node.walk() if n is not node)


def _node_xml(node: ViewNode, index: int, depth: int, max_depth: int, compressed: bool, out: list[str]) -> None:
    if compressed and _unimportant(node):
        # a compressed dump hoists the children of plain layout containers
        for i, child in enumerate(node.children):
            _node_xml(child, i, depth, max_depth, compressed, out)
        return
    pad = "  " * (depth + 1)
    attrs = []
    if _is_naf(node):
        attrs.append('NAF="true"')
    attrs += [
        f'index="{index}"',
        f"text={quoteattr(_text(node.text))}",
        f"resource-id={quoteattr(node.resource_id)}",
        f"class={quoteattr(node.cls)}",
        f"package={quoteattr(node.package)}",
        f"content-desc={quoteattr(_text(node.desc))}",
        f'checkable="{_bool(node.checkable)}"',
        f'checked="{_bool(node.checked)}"',
        f'clickable="{_bool(node.clickable)}"',
        f'enabled="{_bool(node.enabled)}"',
        f'focusable="{_bool(node.focusable)}"',
        f'focused="{_bool(node.focused)}"',
        f'scrollable="{_bool(node.scrollable)}"',
        f'long-clickable="{_bool(node.long_clickable)}"',
        f'password="{_bool(node.password)}"',
        f'selected="{_bool(node.selected)}"',
        'visible-to-user="true"',
        f'bounds="{node.bounds.short()}"',
        f'drawing-order="{index + 1}"',
        f"hint={quoteattr(_text(node.hint))}",
    ]
    head = f"{pad}<node {' '.join(attrs)}"
    if not node.children or depth + 1 > max_depth:
        out.append(head + " />")
        return
    out.append(head + ">")
    for i, child in enumerate(node.children):
        _node_xml(child, i, depth + 1, max_depth, compressed, out)
    out.append(f"{pad}</node>")


def _unimportant(node: ViewNode) -> bool:
    return not (
        node.text or node.desc or node.resource_id or node.clickable or node.scrollable or node.checkable
        or node.editable or not node.children
    )


def dump_xml(roots: list[ViewNode], *, rotation: int = 0, max_depth: int = 50, compressed: bool = False) -> str:
    """The XML `dumpWindowHierarchy` returns (KXmlSerializer style: CRLF, two-space indent)."""
    out = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>"]
    if not roots:
        out.append(f'<hierarchy rotation="{rotation}" />')
        return "\r\n".join(out)
    out.append(f'<hierarchy rotation="{rotation}">')
    for root in roots:
        _node_xml(root, 0, 0, max(0, max_depth), compressed, out)
    out.append("</hierarchy>")
    return "\r\n".join(out)


def obj_info(node: ViewNode) -> dict[str, Any]:
    """The ObjInfo JSON of the u2 server for one node."""
    return {
        "bounds": (node.full_bounds or node.bounds).as_dict(),
        "checkable": node.checkable,
        "checked": node.checked,
        "childCount": len(node.children),
        "className": node.cls,
        "clickable": node.clickable,
        "contentDescription": node.desc or None,
        "enabled": node.enabled,
        "focusable": node.focusable,
        "focused": node.focused,
        "longClickable": node.long_clickable,
        "packageName": node.package,
        "resourceName": node.resource_id or None,
        "scrollable": node.scrollable,
        "selected": node.selected,
        "text": node.text,
        "visibleBounds": node.bounds.as_dict(),
    }


def hit_test(roots: list[ViewNode], x: float, y: float) -> ViewNode | None:
    """The view a tap at (x, y) lands on: the deepest clickable view under the point in the
    topmost window that contains it (roots are ordered top window first)."""
    for root in roots:
        if not root.bounds.contains(x, y):
            continue
        found: ViewNode | None = root if root.clickable else None
        node = root
        while True:
            below = next((c for c in reversed(node.children) if c.bounds.contains(x, y)), None)
            if below is None:
                break
            node = below
            if node.clickable:
                found = node
        return found
    return None
