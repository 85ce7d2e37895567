"""Composing the screen: the view trees of the app window, any dialogs, and the system bars,
for what the UiState says is showing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from devicelab.virtual.ui import chrome, views
from devicelab.virtual.ui.clockfmt import date_text, time_text
from devicelab.virtual.ui.hierarchy import ViewNode
from devicelab.virtual.ui.screens import Screen, Widget

if TYPE_CHECKING:
    from devicelab.virtual.ui.device import UiState


@dataclass
class Frame:
    """The screen at one moment."""

    windows: list[ViewNode]  # every window, the focused one first (the dump order)
    active: ViewNode  # the window UiSelector searches: the top dialog, else the app
    modal: ViewNode | None  # a dialog window that takes every touch on the app area
    bars: list[ViewNode]  # status and navigation bars
    scroll_pages: int  # scroll steps from the top to the end of a wizard page


class _NoChoices:
    """The state of a screen that is not part of a wizard (an injected dialog)."""

    def __init__(self) -> None:
        self.values: dict[str, bool] = {}
        self.texts: dict[str, str] = {}
        self.scroll: dict[str, int] = {}

    def shows(self, widget: Widget) -> bool:
        return widget.when is None  # no SIM or network to judge by: only unconditional widgets

    def enabled(self, widget: Widget) -> bool:
        return not widget.enabled_when

    def primary_label(self, screen: Screen, widget: Widget) -> tuple[str, str]:
        return widget.text, widget.action


def compose(ui: UiState) -> Frame:
    dialogs: list[ViewNode] = []
    if ui.overlay is not None:
        dialogs.append(views.dialog(ui.overlay, _NoChoices()).root)
    if ui.app is not None:
        main = chrome.app(ui.app)
    elif ui.wizard is not None:
        main = views.page(ui.wizard.current, ui.wizard)
        if ui.wizard.dialog is not None:
            dialogs.append(views.dialog(ui.wizard.dialog, ui.wizard).root)
    else:
        main = chrome.home(ui.spec.home, date_text(ui.system))
    radio = ui.handset.radio
    signal = f"{radio.sim.operator}, four bars." if radio.sim else "No SIM."
    wifi = "Wifi three bars." if radio.wifi_connected else "Wifi off."
    bars = [chrome.status_bar(time_text(ui.system), signal, wifi, 100),
            chrome.nav_bar(setup_running=ui.wizard is not None)]
    active = dialogs[0] if dialogs else main.root
    return Frame([*dialogs, main.root, *bars], active, dialogs[0] if dialogs else None, bars, main.scroll_pages)
