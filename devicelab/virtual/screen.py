"""What the virtual display shows, rendered with Pillow: a status bar (time, operator, Wi-Fi,
battery) over the screen of the focused activity. `screencap` and screenshots use it.

Screens are drawn by renderers registered per package (`register_renderer`), or a whole frame
comes from another model (`set_frame_source`, e.g. the UI's view tree). Without either, the
home screen or a plain app window is drawn.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import struct
import zlib
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import Image, ImageDraw, ImageFont

from devicelab.virtual import activities
from devicelab.virtual.android import AndroidSystem
from devicelab.virtual.ui import display

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
#: Supplies a whole frame for a handset (None: draw it here).
FrameSource = Callable[["VirtualHandset"], "Image.Image | None"]
_source: FrameSource | None = None
#: A renderer draws the area below the status bar; `box` is (left, top, right, bottom).
Renderer = Callable[[AndroidSystem, ImageDraw.ImageDraw, tuple[int, int, int, int]], None]
_RENDERERS: dict[str, Renderer] = {}

STATUS_BAR = display.STATUS_BAR_HEIGHT
NAV_BAR = display.NAV_BAR_HEIGHT
FONT_PATHS = ("/usr/share/fonts/truetype/roboto/unhinted/RobotoTTF/Roboto-Regular.ttf",
              "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def register_renderer(package: str, renderer: Renderer) -> None:
    """Draw `package`'s screens with `renderer` while one of its activities is in front."""
    _RENDERERS[package] = renderer


def unregister_renderer(package: str) -> None:
    _RENDERERS.pop(package, None)


@cache
def font(size: int) -> Font:
    """A TrueType font of `size` px: a system sans if installed, else Pillow's bundled one."""
    for path in FONT_PATHS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def local_time(system: AndroidSystem) -> dt.datetime:
    try:
        tz: dt.tzinfo = ZoneInfo(system.getprop("persist.sys.timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = dt.UTC
    return dt.datetime.fromtimestamp(system.clock.now(), tz)


def _status_bar(system: AndroidSystem, draw: ImageDraw.ImageDraw, width: int) -> None:
    draw.rectangle((0, 0, width, STATUS_BAR), fill=(32, 33, 36))
    small = font(34)
    draw.text((36, STATUS_BAR // 2), local_time(system).strftime("%H:%M"), font=small, fill="white", anchor="lm")
    radio = system.radio
    operator = radio.sim.operator if radio.sim else "No SIM card"
    wifi = "Wi-Fi" if radio.wifi_enabled and radio.wifi_connected else ("Wi-Fi off" if not radio.wifi_enabled else "")
    right = "  ".join(part for part in (operator, wifi, "85%") if part)
    draw.text((width - 36, STATUS_BAR // 2), right, font=small, fill="white", anchor="rm")


def _home(system: AndroidSystem, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    for y in range(top, bottom, 8):  # a calm vertical gradient wallpaper
        shade = (y - top) / max(1, bottom - top)
        color = (int(20 + 30 * shade), int(60 + 40 * shade), int(110 + 60 * shade))
        draw.rectangle((left, y, right, y + 8), fill=color)
    now = local_time(system)
    middle = (left + right) // 2
    draw.text((middle, top + 260), now.strftime("%H:%M"), font=font(220), fill="white", anchor="mm")
    draw.text((middle, top + 430), now.strftime("%A, %d %B"), font=font(54), fill="white", anchor="mm")
    operator = system.radio.sim.operator if system.radio.sim else "No SIM card"
    draw.text((middle, top + 520), operator, font=font(48), fill=(220, 230, 255), anchor="mm")
    apps = [p.name for p in system.packages if system.launcher_activity(p.name) and "launcher" not in p.name]
    for index, name in enumerate(apps[:12]):
        row, col = divmod(index, 4)
        cx, cy = left + 160 + col * 253, top + 900 + row * 300
        digest = zlib.crc32(name.encode())
        fill = (digest & 0xFF, (digest >> 8) & 0xFF, (digest >> 16) & 0xFF)
        draw.ellipse((cx - 80, cy - 80, cx + 80, cy + 80), fill=fill)
        label = name.rsplit(".", 1)[-1][:12]
        draw.text((cx, cy + 120), label, font=font(36), fill="white", anchor="mm")
    build = system.build
    draw.text((middle, bottom - 110), f"{build.model} · {build.display_id}", font=font(36), fill="white", anchor="mm")
    draw.text((middle, bottom - 60), build.fingerprint, font=font(26), fill=(200, 210, 230), anchor="mm")


def _app(system: AndroidSystem, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    left, top, right, _bottom = box
    component = activities.full_component(system.focused_activity)
    package = component.partition("/")[0]
    draw.rectangle(box, fill=(250, 250, 250))
    draw.rectangle((left, top, right, top + 168), fill=(33, 150, 243))
    draw.text((left + 48, top + 84), package.rsplit(".", 1)[-1].capitalize(), font=font(60), fill="white", anchor="lm")
    draw.text((left + 48, top + 260), package, font=font(40), fill=(60, 60, 60), anchor="lm")
    draw.text((left + 48, top + 320), component.partition("/")[2], font=font(32), fill=(110, 110, 110), anchor="lm")


def _nav_bar(draw: ImageDraw.ImageDraw, width: int, height: int) -> None:
    top = height - NAV_BAR
    draw.rectangle((0, top, width, height), fill=(0, 0, 0))
    middle, y = width // 2, top + NAV_BAR // 2
    draw.polygon(((middle - 300, y), (middle - 260, y - 24), (middle - 260, y + 24)), fill="white")
    draw.ellipse((middle - 26, y - 26, middle + 26, y + 26), outline="white", width=5)
    draw.rectangle((middle + 260, y - 22, middle + 304, y + 22), outline="white", width=5)


def render(system: AndroidSystem) -> Image.Image:
    """The screen as an RGB image of the display's current size (black when the screen is off)."""
    width, height = system.size_override or (display.WIDTH, display.HEIGHT)
    if system.orientation % 2:
        width, height = height, width
    image = Image.new("RGB", (width, height), "black")
    if not system.screen_on:
        return image
    draw = ImageDraw.Draw(image)
    box = (0, STATUS_BAR, width, height - NAV_BAR)
    package = system.focused_activity.partition("/")[0]
    renderer = _RENDERERS.get(package)
    if renderer is not None:
        renderer(system, draw, box)
    elif system.focused_activity == system.home_activity():
        _home(system, draw, box)
    else:
        _app(system, draw, box)
    _status_bar(system, draw, width)
    _nav_bar(draw, width, height)
    return image


def set_frame_source(source: FrameSource | None) -> None:
    """Let another model (the UI's view tree) supply the frames `screencap` captures; a source
    that returns None falls back to this module's drawing."""
    global _source
    _source = source


def frame(handset: VirtualHandset) -> Image.Image:
    """What the display shows right now (black when off or when nothing is booted)."""
    system = handset.system
    if system is None:
        return Image.new("RGB", (display.WIDTH, display.HEIGHT), "black")
    if _source is not None and system.screen_on:
        try:
            image = _source(handset)
        except Exception:  # a broken frame source must not break screencap: draw it here instead
            log.exception("%s: the frame source failed; drawing the screen instead", handset.name)
            image = None
        if image is not None:
            return image
    return render(system)


def encode_png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def encode_raw(image: Image.Image) -> bytes:
    """`screencap` without -p: width, height, format (RGBA_8888 = 1) as u32 LE, then RGBA pixels."""
    rgba = image.convert("RGBA")
    return struct.pack("<III", rgba.width, rgba.height, 1) + rgba.tobytes()


def png(system: AndroidSystem) -> bytes:
    """This module's drawing of the screen as PNG."""
    return encode_png(render(system))


def raw(system: AndroidSystem) -> bytes:
    return encode_raw(render(system))
