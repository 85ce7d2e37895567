"""The virtual Nokia 7 plus display: 6" 18:9 panel, 1080x2160 at 420 dpi, with an on-screen
navigation bar. `wm size`, `wm density`, the UI server and the screenshots all use these."""

from __future__ import annotations

WIDTH = 1080
HEIGHT = 2160
DENSITY_DPI = 420
SCALE = DENSITY_DPI / 160  # px per dp

STATUS_BAR_HEIGHT = round(24 * SCALE)  # 63 px
NAV_BAR_HEIGHT = round(48 * SCALE)  # 126 px
#: what `UiDevice.getDisplayHeight()` reports: the real height less the navigation bar
APP_HEIGHT = HEIGHT - NAV_BAR_HEIGHT


def dp(value: float) -> int:
    """Density-independent pixels to screen pixels."""
    return round(value * SCALE)


def size_dp(pixels: int) -> int:
    """Screen pixels to dp, rounded as `UiDevice.getDisplaySizeDp()` does."""
    return round(pixels / SCALE)
