"""Text measuring and line breaking for the virtual screen.

Bounds must not depend on which fonts the host has, so layout measures with fixed per-character
advances close to Roboto's (and full width for CJK); the renderer draws the lines it is given.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from devicelab.virtual.ui.display import dp
from devicelab.virtual.ui.hierarchy import Rect, ViewNode

LINE_SPACING = 1.35

# Font sizes (px at 420 dpi), from Material / GLIF dimensions.
TITLE_PX = dp(28)
BODY_PX = dp(16)
ITEM_PX = dp(16)
SUMMARY_PX = dp(14)
BUTTON_PX = dp(14)
SMALL_PX = dp(12)


def is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def char_advance(ch: str, px: int) -> float:
    if is_wide(ch):
        return float(px)
    if ch == " ":
        return 0.26 * px
    if ch in "il.,:;'|!" or ch == "\u2019":
        return 0.25 * px
    if ch.isupper() or ch in "mwMW@%&":
        return 0.64 * px
    return 0.52 * px


def text_width(text: str, px: int) -> int:
    return round(sum(char_advance(ch, px) for ch in text))


def _tokens(text: str) -> Iterator[str]:
    """Words (with their trailing space) for Latin text; single characters for CJK."""
    word = ""
    for ch in text:
        if is_wide(ch):
            if word:
                yield word
                word = ""
            yield ch
        elif ch == " ":
            yield word + " "
            word = ""
        else:
            word += ch
    if word:
        yield word


def wrap(text: str, px: int, width: int) -> tuple[str, ...]:
    """Break text into lines no wider than `width` (a word longer than a line is split)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _tokens(paragraph):
            if line.strip() and text_width((line + token).rstrip(), px) > width:
                lines.append(line.rstrip())
                line = token
            else:
                line += token
            while len(line.rstrip()) > 1 and text_width(line.rstrip(), px) > width:
                cut = len(line.rstrip()) - 1
                while cut > 1 and text_width(line[:cut], px) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return tuple(lines)


def line_height(px: int) -> int:
    return round(px * LINE_SPACING)


def text_view(
    package: str, left: int, top: int, width: int, text: str, px: int, *, style: str, resource_id: str = "",
) -> ViewNode:
    """A TextView sized to its wrapped text."""
    lines = wrap(text, px, width)
    widest = max((text_width(line, px) for line in lines), default=0)
    height = line_height(px) * max(1, len(lines))
    return ViewNode(
        "android.widget.TextView", package, Rect(left, top, left + min(width, widest + 1), top + height),
        resource_id=resource_id, text=text, style=style, lines=lines, font_px=px,
    )


def clip(node: ViewNode, viewport: Rect) -> ViewNode | None:
    """The node as seen through `viewport`: None when wholly outside, else with clipped bounds."""
    if node.bounds.intersect(viewport).empty:
        return None
    kept = [c for c in (clip(child, viewport) for child in node.children) if c is not None]
    visible = node.bounds.intersect(viewport)
    if visible != node.bounds:
        node.full_bounds = node.bounds
        node.bounds = visible
    node.children = kept
    return node


def shift(node: ViewNode, dy: int) -> ViewNode:
    """Move a subtree vertically (scrolling)."""
    for n in node.walk():
        n.bounds = n.bounds.shifted(dy)
    return node


def span(nodes: list[ViewNode]) -> Rect:
    """The smallest rectangle holding all the nodes."""
    return Rect(
        min(n.bounds.left for n in nodes), min(n.bounds.top for n in nodes),
        max(n.bounds.right for n in nodes), max(n.bounds.bottom for n in nodes),
    )
