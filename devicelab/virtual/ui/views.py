"""View trees of wizard screens: the GLIF page of Google's (and HMD's) setup wizard, the
interstitial, and the AlertDialog, with the resource ids of the real layouts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from devicelab.virtual.ui import display
from devicelab.virtual.ui.display import dp
from devicelab.virtual.ui.hierarchy import Rect, ViewNode
from devicelab.virtual.ui.layout import (
    BODY_PX,
    BUTTON_PX,
    ITEM_PX,
    SUMMARY_PX,
    TITLE_PX,
    clip,
    shift,
    span,
    text_view,
    text_width,
)
from devicelab.virtual.ui.screens import Screen, Widget

MARGIN = dp(40)
FOOTER_HEIGHT = dp(72)
BUTTON_HEIGHT = dp(40)
APP = Rect(0, 0, display.WIDTH, display.APP_HEIGHT)


class ScreenState(Protocol):
    """What a screen's views show besides its data: choices, text, scrolling."""

    values: dict[str, bool]
    texts: dict[str, str]
    scroll: dict[str, int]

    def shows(self, widget: Widget) -> bool: ...

    def enabled(self, widget: Widget) -> bool: ...

    def primary_label(self, screen: Screen, widget: Widget) -> tuple[str, str]: ...


@dataclass
class Built:
    """A window's view tree, and how many scroll steps reach the end of its content."""

    root: ViewNode
    scroll_pages: int = 0


def frame(package: str, bounds: Rect, style: str) -> tuple[ViewNode, ViewNode]:
    """DecorView -> LinearLayout -> android:id/content; returns (root, content)."""
    content = ViewNode("android.widget.FrameLayout", package, bounds, resource_id="android:id/content")
    root = ViewNode("android.widget.FrameLayout", package, bounds, style=style).add(
        ViewNode("android.widget.LinearLayout", package, bounds).add(content)
    )
    return root, content


def _button(screen: Screen, widget: Widget, text: str, action: str, left: int, top: int, *,
            primary: bool, enabled: bool, right_align: bool = False) -> ViewNode:
    width = text_width(text, BUTTON_PX) + dp(32 if primary else 16)
    if right_align:
        left -= width
    return ViewNode(
        "android.widget.Button", screen.package, Rect(left, top, left + width, top + BUTTON_HEIGHT),
        resource_id=screen.resource(widget.id), text=text, clickable=enabled, focusable=True, enabled=enabled,
        action=action, style="button-primary" if primary else "button-text", lines=(text,), font_px=BUTTON_PX,
    )


def _row(screen: Screen, widget: Widget, state: ScreenState, top: int, width: int) -> ViewNode:
    """A list item or a switch preference: title, summary, and maybe a Switch on the right."""
    pkg = screen.package
    is_switch = widget.kind == "switch"
    text_w = width - (dp(72) if is_switch else 0)
    title = text_view(pkg, MARGIN, top + dp(12), text_w, widget.text, ITEM_PX, style="item-title",
                      resource_id="android:id/title")
    parts = [title]
    if widget.summary:
        parts.append(text_view(pkg, MARGIN, title.bounds.bottom, text_w, widget.summary, SUMMARY_PX,
                               style="item-summary", resource_id="android:id/summary"))
    bottom = max(parts[-1].bounds.bottom + dp(12), top + dp(56))
    action = f"toggle:{widget.key}" if is_switch else widget.action
    row = ViewNode("android.widget.LinearLayout", pkg, Rect(0, top, display.WIDTH, bottom),
                   resource_id="" if is_switch else screen.resource(widget.id), clickable=True, focusable=True,
                   action=action, style="row")
    row.add(ViewNode("android.widget.RelativeLayout", pkg, span(parts)).add(*parts))
    if is_switch:
        mid = (top + bottom) // 2
        on = state.values.get(widget.key, widget.default)
        switch = ViewNode("android.widget.Switch", pkg, Rect(width + MARGIN - dp(48), mid - dp(16), width + MARGIN,
                          mid + dp(16)), resource_id=screen.resource(widget.id), text="ON" if on else "OFF",
                          checkable=True, checked=on, clickable=True, focusable=True, action=action, style="switch")
        row.add(ViewNode("android.widget.LinearLayout", pkg, switch.bounds, resource_id="android:id/widget_frame")
                .add(switch))
    return row


def _widget(screen: Screen, widget: Widget, state: ScreenState, top: int, width: int) -> ViewNode:
    pkg, rid = screen.package, screen.resource(widget.id)
    if widget.kind in ("item", "switch"):
        return _row(screen, widget, state, top, width)
    if widget.kind == "text":
        short = len(widget.text) < 40 and not widget.text.endswith((".", "。"))
        return text_view(pkg, MARGIN, top + dp(8), width, widget.text, SUMMARY_PX if short else BODY_PX,
                         style="subhead" if short else "body", resource_id=rid)
    if widget.kind == "button":
        return _button(screen, widget, widget.text, widget.action, MARGIN, top + dp(8),
                       primary=widget.action == "next", enabled=state.enabled(widget))
    if widget.kind == "checkbox":
        on = state.values.get(widget.key, widget.default)
        label = text_view(pkg, MARGIN + dp(40), top + dp(12), width - dp(40), widget.text, BODY_PX, style="body")
        return ViewNode("android.widget.CheckBox", pkg, Rect(MARGIN, top, MARGIN + width, label.bounds.bottom + dp(12)),
                        resource_id=rid, text=widget.text, checkable=True, checked=on, clickable=True, focusable=True,
                        action=f"toggle:{widget.key}", style="checkbox", lines=label.lines, font_px=BODY_PX)
    if widget.kind == "spinner":
        inner = text_view(pkg, MARGIN, top + dp(12), width - dp(32), widget.text, ITEM_PX, style="body",
                          resource_id="android:id/text1")
        return ViewNode("android.widget.Spinner", pkg, Rect(MARGIN, top, MARGIN + width, inner.bounds.bottom + dp(12)),
                        resource_id=rid, clickable=True, focusable=True, action=widget.action,
                        style="spinner").add(inner)
    if widget.kind == "edit":
        value = state.texts.get(widget.key, "")
        return ViewNode("android.widget.EditText", pkg, Rect(MARGIN, top + dp(8), MARGIN + width, top + dp(64)),
                        resource_id=rid, text=value, hint=widget.text, clickable=True, focusable=True,
                        long_clickable=True, editable=True, action=f"edit:{widget.key}", key=widget.key, style="edit",
                        lines=(value or widget.text,), font_px=ITEM_PX)
    return ViewNode("android.widget.ProgressBar", pkg, Rect(MARGIN, top + dp(8), MARGIN + width, top + dp(12)),
                    resource_id=rid, style="progress")


def _header(screen: Screen, top: int, width: int) -> list[ViewNode]:
    pkg = screen.package
    icon = ViewNode("android.widget.ImageView", pkg, Rect(MARGIN, top, MARGIN + dp(32), top + dp(32)),
                    resource_id=screen.resource("suw_layout_icon"), style="logo",
                    lines=("G" if "google" in pkg else "N",))
    nodes = [icon]
    title = text_view(pkg, MARGIN, icon.bounds.bottom + dp(16), width, screen.title, TITLE_PX, style="title",
                      resource_id=screen.resource(screen.title_id))
    nodes.append(title)
    if screen.description:
        nodes.append(text_view(pkg, MARGIN, title.bounds.bottom + dp(8), width, screen.description, BODY_PX,
                               style="body", resource_id=screen.resource("suw_layout_description")))
    if screen.kind == "interstitial":
        nodes.append(ViewNode("android.widget.ProgressBar", pkg, Rect(0, nodes[-1].bounds.bottom + dp(24),
                              display.WIDTH, nodes[-1].bounds.bottom + dp(28)),
                              resource_id=screen.resource("suw_layout_progress"), style="progress"))
    return nodes


def page(screen: Screen, state: ScreenState) -> Built:
    """A full-screen wizard page (or interstitial) in the app window."""
    width = display.WIDTH - 2 * MARGIN
    root, content = frame(screen.package, APP, "window-page")
    footer_top = APP.bottom - (FOOTER_HEIGHT if screen.footer else 0)
    viewport = Rect(0, display.STATUS_BAR_HEIGHT, display.WIDTH, footer_top)
    body = _header(screen, viewport.top + dp(24), width)
    for widget in screen.widgets:
        if state.shows(widget):
            body.append(_widget(screen, widget, state, body[-1].bounds.bottom + dp(8), width))
    bottom = body[-1].bounds.bottom + dp(24)
    overflow = max(0, bottom - viewport.bottom)
    step = round(viewport.height * 0.75)
    pages = screen.more or math.ceil(overflow / step)
    done = min(state.scroll.get(screen.id, 0), pages)
    offset = round(overflow * done / pages) if pages else 0
    column = ViewNode("android.widget.LinearLayout", screen.package, Rect(0, viewport.top, display.WIDTH, bottom))
    column.add(*body)
    shift(column, -offset)
    scroll = ViewNode("android.widget.ScrollView", screen.package, viewport, resource_id=screen.resource(
        "suw_scroll_view"), scrollable=overflow > 0, focusable=overflow > 0, action="scroll")
    kept = clip(column, viewport)
    if kept is not None:
        scroll.add(kept)
    glif = ViewNode("android.widget.FrameLayout", screen.package, Rect(0, display.STATUS_BAR_HEIGHT, display.WIDTH,
                    APP.bottom), resource_id=screen.resource("suw_layout")).add(scroll)
    visible = [w for w in screen.footer if state.shows(w)]
    if visible:
        bar = ViewNode("android.widget.LinearLayout", screen.package, Rect(0, footer_top, display.WIDTH, APP.bottom),
                       resource_id=screen.resource("suw_layout_footer"), style="footer")
        top = footer_top + (FOOTER_HEIGHT - BUTTON_HEIGHT) // 2
        for widget in visible:
            primary = widget is visible[-1] and (len(visible) > 1 or widget.id != "skip_button")
            text, action = state.primary_label(screen, widget)
            left = display.WIDTH - MARGIN if primary else MARGIN - dp(8)
            bar.add(_button(screen, widget, text, action, left, top, primary=primary,
                            enabled=state.enabled(widget), right_align=primary))
        glif.add(bar)
    content.add(glif)
    return Built(root, pages)


def dialog(screen: Screen, state: ScreenState) -> Built:
    """An AlertDialog window: title, message, any widgets, and a row of buttons."""
    pkg = screen.package
    left, width = dp(32), display.WIDTH - 2 * dp(32)
    inner = width - 2 * dp(24)
    x = left + dp(24)
    parts: list[ViewNode] = []
    y = 0
    if screen.title:
        title = text_view(pkg, x, y + dp(24), inner, screen.title, dp(20), style="title-dialog",
                          resource_id="android:id/alertTitle")
        parts.append(ViewNode("android.widget.LinearLayout", pkg, title.bounds, resource_id="android:id/topPanel")
                     .add(ViewNode("android.widget.LinearLayout", pkg, title.bounds,
                                   resource_id="android:id/title_template").add(title)))
        y = title.bounds.bottom
    if screen.description:
        msg = text_view(pkg, x, y + dp(16), inner, screen.description, BODY_PX, style="body",
                        resource_id="android:id/message")
        parts.append(ViewNode("android.widget.FrameLayout", pkg, msg.bounds, resource_id="android:id/contentPanel")
                     .add(ViewNode("android.widget.ScrollView", pkg, msg.bounds, resource_id="android:id/scrollView")
                          .add(msg)))
        y = msg.bounds.bottom
    custom = []
    for widget in screen.widgets:
        if state.shows(widget):
            node = _widget(screen, widget, state, y + dp(4), inner)
            if widget.kind == "button":  # dialog buttons in the body span the card (e.g. ANR's list)
                node.bounds = Rect(left, node.bounds.top, left + width, node.bounds.top + dp(48))
            custom.append(node)
            y = node.bounds.bottom
    if custom:
        parts.append(ViewNode("android.widget.FrameLayout", pkg, span(custom), resource_id="android:id/customPanel")
                     .add(ViewNode("android.widget.FrameLayout", pkg, span(custom), resource_id="android:id/custom")
                          .add(ViewNode("android.widget.LinearLayout", pkg, span(custom)).add(*custom))))
    row_top = y + dp(20)
    buttons: list[ViewNode] = []
    right = left + width - dp(8)
    for widget in reversed([w for w in screen.footer if state.shows(w)]):
        button = _button(screen, widget, widget.text, widget.action, right, row_top, primary=False,
                         enabled=state.enabled(widget), right_align=True)
        buttons.insert(0, button)
        right = button.bounds.left - dp(8)
    bottom = (buttons[0].bounds.bottom if buttons else y) + dp(8)
    if buttons:
        parts.append(ViewNode("android.widget.ScrollView", pkg, Rect(left, row_top, left + width, bottom),
                              resource_id="android:id/buttonPanel").add(*buttons))
    top = (display.APP_HEIGHT - bottom) // 2
    card = Rect(left, 0, left + width, bottom)
    panel = ViewNode("android.widget.LinearLayout", pkg, card, resource_id="android:id/parentPanel").add(*parts)
    root, content = frame(pkg, card, "dialog-card")
    content.add(panel)
    return Built(shift(root, top))

