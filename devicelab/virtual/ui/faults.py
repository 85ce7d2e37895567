"""Fault hooks for the virtual screen: an unexpected dialog, a crashing u2 server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devicelab.virtual.ui.app_process import crash_server
from devicelab.virtual.ui.device import ui_state
from devicelab.virtual.ui.screens import Screen, Widget

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

__all__ = ["anr_dialog", "crash_server", "inject_screen", "update_dialog"]


def inject_screen(handset: VirtualHandset, screen: Screen, *, now: bool = False) -> None:
    """Show `screen` (usually a dialog) over whatever is on screen: at the next screen change,
    or at once with `now`. Its buttons close it; `next`/`goto:` buttons also move the wizard."""
    ui_state(handset).inject(screen, now=now)


def anr_dialog(app: str = "Setup Wizard", package: str = "android") -> Screen:
    """Android's "isn't responding" dialog (ids of the real one: aerr_close, aerr_wait)."""
    return Screen(
        id="anr", kind="dialog", package=package, activity="com.android.server.am.AppNotRespondingDialog",
        title=f"{app} isn't responding", title_id="android:id/alertTitle", cancelable=False,
        widgets=(
            Widget(kind="button", id="android:id/aerr_close", text="Close app", action="dismiss"),
            Widget(kind="button", id="android:id/aerr_wait", text="Wait", action="dismiss"),
        ),
    )


def update_dialog() -> Screen:
    """HMD's over-the-air update prompt, which no wizard flow expects."""
    return Screen(
        id="system_update", kind="dialog", package="com.evenwell.fota", activity=".UpdateDialogActivity",
        title="System update available", description="A new software version is ready to download.",
        footer=(
            Widget(kind="button", id="android:id/button2", text="Later", action="dismiss"),
            Widget(kind="button", id="android:id/button1", text="Download", action="dismiss"),
        ),
    )
