"""The hooks the rest of the virtual handset calls into the screen.

    register_main_class(MAIN_CLASS, uia2_main)   # the shell: app_process / com.wetest.uia2.Main
    attach(handset)                              # after each boot: the screen starts taking input
    current_png(handset)                         # screencap -p
    focused_component(handset)                   # dumpsys window: mCurrentFocus (also kept in
                                                 #   system.focused_activity)
    inject_screen(handset, screen), crash_server(handset)   # fault injection

Input needs no hook: `input tap/swipe/keyevent/text` published on `system.input` reaches the
screen, and `am start` (system.start_activity) brings apps forward, once attached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devicelab.virtual.ui.app_process import MAIN_CLASS, crash_server, uia2_main
from devicelab.virtual.ui.device import UiState, UiUnavailable, ui_state
from devicelab.virtual.ui.faults import inject_screen
from devicelab.virtual.ui.render import current_png

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

__all__ = [
    "MAIN_CLASS", "UiUnavailable", "attach", "crash_server", "current_png", "focused_component", "inject_screen",
    "uia2_main",
]


def attach(handset: VirtualHandset) -> UiState:
    """Bring up the screen of a freshly booted system (the wizard or the launcher)."""
    return ui_state(handset)


def focused_component(handset: VirtualHandset) -> str:
    """`pkg/.Activity` of the focused window, with timed screens brought up to date."""
    return ui_state(handset).focus()
