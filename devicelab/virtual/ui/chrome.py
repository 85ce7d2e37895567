"""View trees of what surrounds the apps: SystemUI's status and navigation bars, the launcher's
home screen (Launcher3 ids, as in the real Pixel launcher dump) and a launched app."""

from __future__ import annotations

from devicelab.virtual.ui import display
from devicelab.virtual.ui.display import dp
from devicelab.virtual.ui.hierarchy import Rect, ViewNode
from devicelab.virtual.ui.layout import ITEM_PX, SMALL_PX, text_view
from devicelab.virtual.ui.screens import Home, HomeApp
from devicelab.virtual.ui.views import APP, Built, frame

SYSTEMUI = "com.android.systemui"


def status_bar(clock: str, signal: str, wifi: str, battery: int) -> ViewNode:
    """The status bar window: clock on the left, signal, Wi-Fi and battery on the right."""
    bar = Rect(0, 0, display.WIDTH, display.STATUS_BAR_HEIGHT)
    time = text_view(SYSTEMUI, dp(16), dp(2), dp(80), clock, dp(14), style="status-text",
                     resource_id=f"{SYSTEMUI}:id/clock")
    time.desc = clock
    icons: list[ViewNode] = []
    right = display.WIDTH - dp(16)
    for rid, desc, style in (("battery", f"Battery {battery} percent.", "icon-battery"),
                             ("wifi_combo", wifi, "icon-wifi"), ("mobile_combo", signal, "icon-signal")):
        icons.insert(0, ViewNode("android.widget.ImageView", SYSTEMUI, Rect(right - dp(18), dp(3), right, dp(21)),
                                 resource_id=f"{SYSTEMUI}:id/{rid}", desc=desc, style=style))
        right -= dp(24)
    system_icons = ViewNode("android.widget.LinearLayout", SYSTEMUI, Rect(right, 0, display.WIDTH, bar.bottom),
                            resource_id=f"{SYSTEMUI}:id/system_icons").add(*icons)
    contents = ViewNode("android.widget.LinearLayout", SYSTEMUI, bar, resource_id=f"{SYSTEMUI}:id/status_bar_contents")
    contents.add(time, system_icons)
    return ViewNode("android.widget.FrameLayout", SYSTEMUI, bar, resource_id=f"{SYSTEMUI}:id/status_bar",
                    style="statusbar").add(contents)


def nav_bar(*, setup_running: bool) -> ViewNode:
    """The navigation bar window; the setup wizard hides home and overview until it is done."""
    bar = Rect(0, display.APP_HEIGHT, display.WIDTH, display.HEIGHT)
    keys = [("back", "Back", "key:back")]
    if not setup_running:
        keys += [("home", "Home", "key:home"), ("recent_apps", "Overview", "key:recent")]
    buttons = []
    slot = display.WIDTH // 3
    for i, (rid, desc, action) in enumerate(keys):
        left = i * slot + (slot - dp(72)) // 2
        buttons.append(ViewNode("android.widget.ImageView", SYSTEMUI, Rect(left, bar.top, left + dp(72), bar.bottom),
                                resource_id=f"{SYSTEMUI}:id/{rid}", desc=desc, clickable=True,
                                long_clickable=rid != "back", action=action, style=f"nav-{rid}"))
    buttons_box = ViewNode("android.widget.LinearLayout", SYSTEMUI, bar, resource_id=f"{SYSTEMUI}:id/nav_buttons")
    buttons_box.add(*buttons)
    return ViewNode("android.widget.FrameLayout", SYSTEMUI, bar, resource_id=f"{SYSTEMUI}:id/navigation_bar_frame",
                    style="navbar").add(buttons_box)


def _icon(pkg: str, app: HomeApp, left: int, top: int, width: int) -> ViewNode:
    """A BubbleTextView: icon above the label, the whole thing one clickable TextView."""
    label = app.label
    return ViewNode("android.widget.TextView", pkg, Rect(left, top, left + width, top + dp(88)), text=label, desc=label,
                    clickable=True, focusable=True, long_clickable=True, action=f"launch:{app.package}",
                    style="launcher-icon", lines=(label,), font_px=SMALL_PX)


def home(spec: Home, date_text: str) -> Built:
    """The launcher's home screen: smartspace date, a page of apps, the hotseat and search."""
    pkg = spec.package
    root, content = frame(pkg, APP, "window-home")

    def rid(name: str) -> str:
        return f"{pkg}:id/{name}"

    cell_area = Rect(dp(8), display.STATUS_BAR_HEIGHT + dp(8), display.WIDTH - dp(8), APP.bottom - dp(200))
    date = text_view(pkg, dp(48), cell_area.top + dp(24), display.WIDTH - dp(96), date_text, dp(22),
                     style="smartspace", resource_id=rid("clock"))
    date.clickable, date.desc = True, date_text
    smartspace = ViewNode("android.widget.FrameLayout", pkg, Rect(dp(16), cell_area.top, display.WIDTH - dp(16),
                          date.bounds.bottom + dp(24)), resource_id=rid("search_container_workspace"),
                          clickable=True).add(
        ViewNode("android.widget.LinearLayout", pkg, date.bounds, resource_id=rid("smartspace_content")).add(date))
    cell_w = (display.WIDTH - 2 * dp(16)) // 5
    icons = [_icon(pkg, app, dp(16) + (i % 5) * cell_w, cell_area.bottom - dp(100) - (i // 5) * dp(100), cell_w)
             for i, app in enumerate(spec.apps)]
    cells = ViewNode("android.view.ViewGroup", pkg, cell_area).add(smartspace, *icons)
    workspace = ViewNode("com.android.launcher3.Workspace", pkg, APP, resource_id=rid("workspace"), scrollable=True)
    workspace.add(ViewNode("android.view.ViewGroup", pkg, cell_area, clickable=True).add(cells))
    handle_top = cell_area.bottom
    indicator = ViewNode("android.widget.FrameLayout", pkg, Rect(0, handle_top, display.WIDTH, handle_top + dp(32)),
                         resource_id=rid("page_indicator")).add(
        ViewNode("android.widget.ImageView", pkg, Rect(display.WIDTH // 2 - dp(24), handle_top, display.WIDTH // 2
                 + dp(24), handle_top + dp(32)), resource_id=rid("all_apps_handle"), desc="Apps list", clickable=True,
                 style="handle"))
    hot_top = handle_top + dp(32)
    hot_icons = [_icon(pkg, app, dp(16) + i * cell_w, hot_top, cell_w) for i, app in enumerate(spec.hotseat[:5])]
    search_top = hot_top + dp(96)
    search = ViewNode("android.widget.FrameLayout", pkg, Rect(dp(20), search_top, display.WIDTH - dp(20),
                      search_top + dp(48)), resource_id=rid("search_container_hotseat"), desc=spec.search_hint,
                      clickable=True, style="search-bar", lines=(spec.search_hint,), font_px=ITEM_PX)
    hotseat = ViewNode("android.widget.FrameLayout", pkg, Rect(0, hot_top, display.WIDTH, APP.bottom),
                       resource_id=rid("hotseat")).add(
        ViewNode("android.view.ViewGroup", pkg, Rect(0, hot_top, display.WIDTH, hot_top + dp(88)),
                 resource_id=rid("layout")).add(*hot_icons), search)
    drag_layer = ViewNode("android.widget.FrameLayout", pkg, APP, resource_id=rid("drag_layer"))
    drag_layer.add(workspace, indicator, hotseat)
    content.add(ViewNode("android.widget.FrameLayout", pkg, APP, resource_id=rid("launcher")).add(drag_layer))
    return Built(root)


def app(app_spec: HomeApp) -> Built:
    """A launched app: the lab models no apps, so a toolbar with its name over an empty page."""
    pkg = app_spec.package
    root, content = frame(pkg, APP, "window-page")
    bar = Rect(0, display.STATUS_BAR_HEIGHT, display.WIDTH, display.STATUS_BAR_HEIGHT + dp(56))
    title = text_view(pkg, dp(16), bar.top + dp(12), display.WIDTH - dp(32), app_spec.label, dp(20),
                      style="toolbar-title")
    toolbar = ViewNode("android.view.ViewGroup", pkg, bar, resource_id=f"{pkg}:id/toolbar", style="toolbar").add(title)
    content.add(toolbar)
    return Built(root)
