"""UiSelector matching: the `Selector` dict uiautomator2 sends, parsed and validated, and the
search the u2 server runs with it over the view tree."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devicelab.virtual.ui.hierarchy import ViewNode, iter_nodes, parent_map


class SelectorError(ValueError):
    """A selector the server cannot use (bad key, type or regular expression)."""


#: field -> (mask bit, expected type, UiSelector's name in its toString, view attribute, test)
FIELDS: dict[str, tuple[int, type, str, str, str]] = {
    "text": (0x01, str, "TEXT", "text", "eq"),
    "textContains": (0x02, str, "CONTAINS_TEXT", "text", "contains"),
    "textMatches": (0x04, str, "PATTERN_TEXT", "text", "matches"),
    "textStartsWith": (0x08, str, "START_TEXT", "text", "starts"),
    "className": (0x10, str, "CLASS", "cls", "eq"),
    "classNameMatches": (0x20, str, "PATTERN_CLASS", "cls", "matches"),
    "description": (0x40, str, "DESCRIPTION", "desc", "eq"),
    "descriptionContains": (0x80, str, "CONTAINS_DESCRIPTION", "desc", "contains"),
    "descriptionMatches": (0x0100, str, "PATTERN_DESCRIPTION", "desc", "matches"),
    "descriptionStartsWith": (0x0200, str, "START_DESCRIPTION", "desc", "starts"),
    "checkable": (0x0400, bool, "CHECKABLE", "checkable", "eq"),
    "checked": (0x0800, bool, "CHECKED", "checked", "eq"),
    "clickable": (0x1000, bool, "CLICKABLE", "clickable", "eq"),
    "longClickable": (0x2000, bool, "LONG_CLICKABLE", "long_clickable", "eq"),
    "scrollable": (0x4000, bool, "SCROLLABLE", "scrollable", "eq"),
    "enabled": (0x8000, bool, "ENABLED", "enabled", "eq"),
    "focusable": (0x010000, bool, "FOCUSABLE", "focusable", "eq"),
    "focused": (0x020000, bool, "FOCUSED", "focused", "eq"),
    "selected": (0x040000, bool, "SELECTED", "selected", "eq"),
    "packageName": (0x080000, str, "PACKAGE_NAME", "package", "eq"),
    "packageNameMatches": (0x100000, str, "PACKAGE_NAME_REGEX", "package", "matches"),
    "resourceId": (0x200000, str, "RESOURCE_ID", "resource_id", "eq"),
    "resourceIdMatches": (0x400000, str, "RESOURCE_ID_REGEX", "resource_id", "matches"),
    "index": (0x800000, int, "INDEX", "", "index"),
    "instance": (0x01000000, int, "INSTANCE", "", "instance"),
}
_STRUCTURE = ("mask", "childOrSibling", "childOrSiblingSelector")

Test = Callable[[ViewNode, int], bool]  # (node, index among siblings) -> match


@dataclass(frozen=True)
class UiSelector:
    """A parsed selector: the criteria its mask enables, plus a child/sibling chain."""

    criteria: tuple[tuple[str, Any], ...]
    chain: tuple[tuple[str, UiSelector], ...] = ()

    @property
    def instance(self) -> int | None:
        return next((v for k, v in self.criteria if k == "instance"), None)

    def __str__(self) -> str:
        parts = [f"{FIELDS[k][2]}={str(v).lower() if isinstance(v, bool) else v}" for k, v in self.criteria]
        parts += [f"{'CHILD' if kind == 'child' else 'PARENT'}={sub}" for kind, sub in self.chain]
        return f"UiSelector[{', '.join(parts)}]"


def parse_selector(data: Any, *, depth: int = 0) -> UiSelector:
    """Validate a selector dict from the wire; SelectorError names the first problem."""
    if not isinstance(data, dict):
        raise SelectorError(f"a selector must be an object, got {type(data).__name__}")
    if depth > 8:
        raise SelectorError("selector chain is nested too deeply")
    unknown = sorted(k for k in data if k not in FIELDS and k not in _STRUCTURE)
    if unknown:
        raise SelectorError(f"unknown selector field {unknown[0]!r}")
    mask = data.get("mask")
    if mask is None:
        mask = sum(FIELDS[k][0] for k in data if k in FIELDS)  # a hand-written selector without a mask
    if not isinstance(mask, int) or isinstance(mask, bool):
        raise SelectorError("selector mask must be an integer")
    criteria: list[tuple[str, Any]] = []
    for name, (bit, kind, *_) in FIELDS.items():
        if not mask & bit:
            continue
        value = data.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SelectorError(f"selector field {name!r} must be {kind.__name__}, got {value!r}")
        if isinstance(value, str) and name.endswith("Matches"):
            _compile(name, value)
        criteria.append((name, value))
    kinds = data.get("childOrSibling") or []
    subs = data.get("childOrSiblingSelector") or []
    if not isinstance(kinds, list) or not isinstance(subs, list) or len(kinds) != len(subs):
        raise SelectorError("childOrSibling and childOrSiblingSelector must be lists of equal length")
    chain = []
    for kind, sub in zip(kinds, subs, strict=True):
        if not isinstance(kind, str) or kind.lower() not in ("child", "sibling"):
            raise SelectorError(f"childOrSibling entries must be 'child' or 'sibling', got {kind!r}")
        chain.append((kind.lower(), parse_selector(sub, depth=depth + 1)))
    return UiSelector(tuple(criteria), tuple(chain))


def _compile(name: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        raise SelectorError(f"selector field {name!r}: bad regular expression: {exc}") from None


def _test(name: str, value: Any) -> Test:
    attr, op = FIELDS[name][3], FIELDS[name][4]
    if op == "index":
        return lambda n, i: i == value
    if op == "instance":  # applied to the list of matches, not to a view
        return lambda n, i: True
    if op == "matches":
        regex = _compile(name, value)
        return lambda n, i: regex.fullmatch(getattr(n, attr)) is not None
    if op == "contains":
        return lambda n, i: value in getattr(n, attr)
    if op == "starts":
        return lambda n, i: bool(getattr(n, attr).startswith(value))
    return lambda n, i: bool(getattr(n, attr) == value)


def _matcher(selector: UiSelector) -> Test:
    tests = [_test(k, v) for k, v in selector.criteria]
    return lambda node, index: all(t(node, index) for t in tests)


def _candidates(scope: list[ViewNode], selector: UiSelector, indexes: dict[int, int]) -> list[ViewNode]:
    test = _matcher(selector)
    return [n for root in scope for n in root.walk() if test(n, indexes.get(id(n), 0))]


def find_all(roots: list[ViewNode], selector: UiSelector) -> list[ViewNode]:
    """Every view the selector matches, in UiAutomator's search order."""
    indexes = {id(c): i for n in iter_nodes(roots) for i, c in enumerate(n.children)}
    found = _pick(_candidates(roots, selector, indexes), selector.instance)
    if selector.chain:
        parents = parent_map(roots)
        for kind, sub in selector.chain:
            scopes: list[ViewNode] = []
            for node in found:
                if kind == "child":
                    scopes.extend(node.children)
                else:
                    parent = parents.get(id(node))
                    scopes.extend(parent.children if parent is not None else [node])
            matches: list[ViewNode] = []
            for node in _candidates(scopes, sub, indexes):
                if all(node is not m for m in matches):
                    matches.append(node)
            found = _pick(matches, sub.instance)
    return found


def _pick(nodes: list[ViewNode], instance: int | None) -> list[ViewNode]:
    if instance is None:
        return nodes
    return nodes[instance : instance + 1] if instance >= 0 else []


def find_first(roots: list[ViewNode], selector: UiSelector) -> ViewNode | None:
    found = find_all(roots, selector)
    return found[0] if found else None
