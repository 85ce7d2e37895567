"""Drawing the virtual screen: the view tree of every window, painted with Pillow in the look of
Google's setup wizard (white page, blue buttons and switches), 1080x2160.

Fonts: Roboto for Latin and Android's DroidSansFallback for CJK when the host has them (Debian:
fonts-roboto-unhinted, fonts-droid-fallback), else DejaVu, else Pillow's built-in font.
"""

from __future__ import annotations

import base64
import io
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from devicelab.virtual.ui import display
from devicelab.virtual.ui.compose import Frame
from devicelab.virtual.ui.device import ui_state
from devicelab.virtual.ui.display import dp
from devicelab.virtual.ui.hierarchy import Rect, ViewNode
from devicelab.virtual.ui.layout import is_wide, line_height

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

BLUE = (26, 115, 232)
INK = (32, 33, 36)
GREY = (95, 99, 104)
LIGHT = (218, 220, 224)
WHITE = (255, 255, 255)

_FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"))
LATIN = ("roboto/unhinted/RobotoTTF/Roboto-Regular.ttf", "dejavu/DejaVuSans.ttf")
LATIN_BOLD = ("roboto/unhinted/RobotoTTF/Roboto-Medium.ttf", "dejavu/DejaVuSans-Bold.ttf")
CJK = ("droid/DroidSansFallbackFull.ttf", "wqy/wqy-microhei.ttc", "noto/NotoSansCJK-Regular.ttc")


@cache
def _font_file(candidates: tuple[str, ...]) -> str | None:
    for name in candidates:
        for folder in _FONT_DIRS:
            path = folder / name
            if path.is_file():
                return str(path)
    return None


@cache
def font(px: int, *, bold: bool = False, cjk: bool = False) -> Font:
    path = _font_file(CJK) if cjk else None
    path = path or _font_file(LATIN_BOLD if bold else LATIN)
    if path is None:
        return ImageFont.load_default(px)
    return ImageFont.truetype(path, px)


def _runs(text: str, px: int, bold: bool) -> list[tuple[str, Font]]:
    """The line cut into runs of one font each: CJK glyphs from the CJK font, the rest Latin."""
    runs: list[tuple[str, Font]] = []
    for ch in text:
        face = font(px, bold=bold, cjk=is_wide(ch))
        if runs and runs[-1][1] is face:
            runs[-1] = (runs[-1][0] + ch, face)
        else:
            runs.append((ch, face))
    return runs


def _width(draw: ImageDraw.ImageDraw, text: str, px: int, bold: bool) -> float:
    return sum(draw.textlength(run, font=face) for run, face in _runs(text, px, bold))


def _line(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, px: int, color: tuple[int, int, int], *,
          bold: bool = False, width: float = 0) -> float:
    """Draw one line with its top at xy, shrunk to `width` if the real glyphs run wider than
    layout assumed; returns the width drawn."""
    while px > 8 and width > 0 and _width(draw, text, px, bold) > width:
        px -= 2
    x, top = xy
    for run, face in _runs(text, px, bold):
        draw.text((x, top + px * 0.93), run, font=face, fill=color, anchor="ls")
        x += draw.textlength(run, font=face)
    return x - xy[0]


def _text(draw: ImageDraw.ImageDraw, node: ViewNode, color: tuple[int, int, int], *, bold: bool = False,
          center: bool = False) -> None:
    lines = node.lines or ((node.text,) if node.text else ())
    px = node.font_px or dp(14)
    box = node.full_bounds or node.bounds
    y: float = box.top
    for line in lines:
        x: float = box.left
        if center:
            x = box.left + (box.width - _width(draw, line, px, bold)) / 2
            y = box.top + (box.height - px) / 2
        _line(draw, (x, y), line, px, color, bold=bold, width=display.WIDTH - box.left)
        y += line_height(px)


def _switch(draw: ImageDraw.ImageDraw, node: ViewNode) -> None:
    b = node.bounds
    cy = (b.top + b.bottom) // 2
    track = (b.left + dp(6), cy - dp(7), b.right - dp(6), cy + dp(7))
    draw.rounded_rectangle(track, radius=dp(7), fill=(138, 180, 248) if node.checked else (189, 193, 198))
    cx = b.right - dp(14) if node.checked else b.left + dp(14)
    draw.ellipse((cx - dp(10), cy - dp(10), cx + dp(10), cy + dp(10)), fill=BLUE if node.checked else (241, 241, 241),
                 outline=None if node.checked else (154, 160, 166))


def _checkbox(draw: ImageDraw.ImageDraw, node: ViewNode) -> None:
    b = node.bounds
    box = (b.left + dp(2), b.top + dp(14), b.left + dp(22), b.top + dp(34))
    if node.checked:
        draw.rounded_rectangle(box, radius=dp(2), fill=BLUE)
        draw.line([(box[0] + dp(4), box[1] + dp(10)), (box[0] + dp(8), box[1] + dp(14)),
                   (box[0] + dp(16), box[1] + dp(5))], fill=WHITE, width=dp(2))
    else:
        draw.rounded_rectangle(box, radius=dp(2), outline=GREY, width=dp(2))
    label = ViewNode(node.cls, node.package, Rect(b.left + dp(40), b.top + dp(12), b.right, b.bottom),
                     lines=node.lines, font_px=node.font_px)
    _text(draw, label, INK)


def _launcher_icon(draw: ImageDraw.ImageDraw, node: ViewNode) -> None:
    b = node.bounds
    cx, r = (b.left + b.right) // 2, dp(24)
    palette = [(66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88), (171, 71, 188), (0, 172, 193)]
    color = palette[sum(map(ord, node.text)) % len(palette)]
    draw.ellipse((cx - r, b.top + dp(8), cx + r, b.top + dp(8) + 2 * r), fill=color)
    initial, px = node.text[:1], dp(22)
    _line(draw, (cx - _width(draw, initial, px, True) / 2, b.top + dp(8) + r - px / 2), initial, px, WHITE, bold=True)
    label = node.text
    px = node.font_px
    _line(draw, (cx - min(b.width, _width(draw, label, px, False)) / 2, b.top + dp(64)), label, px, WHITE,
          width=b.width)


def _chrome(draw: ImageDraw.ImageDraw, node: ViewNode) -> None:
    """Status and navigation bar pieces."""
    b, style = node.bounds, node.style
    if style == "statusbar":
        draw.rectangle((b.left, b.top, b.right, b.bottom), fill=(0, 0, 0))
    elif style == "status-text":
        _text(draw, node, WHITE)
    elif style == "icon-battery":
        draw.rounded_rectangle((b.left + dp(5), b.top + dp(1), b.right - dp(5), b.bottom), radius=dp(1), fill=WHITE)
    elif style == "icon-wifi":
        on = "off" not in node.desc
        draw.pieslice((b.left, b.top, b.right, b.bottom + dp(12)), 225, 315, fill=WHITE if on else (90, 90, 90))
    elif style == "icon-signal":
        on = "No SIM" not in node.desc
        draw.polygon([(b.left, b.bottom), (b.right, b.bottom), (b.right, b.top)], fill=WHITE if on else (90, 90, 90))
    elif style == "navbar":
        draw.rectangle((b.left, b.top, b.right, b.bottom), fill=(0, 0, 0))
    elif style.startswith("nav-"):
        cx, cy, r = (b.left + b.right) // 2, (b.top + b.bottom) // 2, dp(9)
        if style == "nav-back":
            draw.polygon([(cx + r, cy - r), (cx + r, cy + r), (cx - r, cy)], outline=WHITE, width=dp(2))
        elif style == "nav-home":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=WHITE, width=dp(2))
        else:
            draw.rectangle((cx - r + dp(1), cy - r + dp(1), cx + r - dp(1), cy + r - dp(1)), outline=WHITE, width=dp(2))


def _draw(img: Image.Image, draw: ImageDraw.ImageDraw, node: ViewNode) -> None:
    b, style = node.bounds, node.style
    box = (b.left, b.top, b.right, b.bottom)
    if style == "window-page":
        draw.rectangle(box, fill=WHITE)
    elif style == "window-home":
        for y in range(b.top, b.bottom, 8):  # a dusk-blue wallpaper gradient
            t = (y - b.top) / max(1, b.height)
            draw.rectangle((b.left, y, b.right, y + 8), fill=(int(30 + 40 * t), int(60 + 30 * t), int(120 + 60 * t)))
    elif style == "dialog-card":
        draw.rounded_rectangle(box, radius=dp(8), fill=WHITE)
    elif style == "logo":
        draw.ellipse(box, fill=BLUE)
        letter, px = (node.lines[0] if node.lines else ""), dp(18)
        _line(draw, (b.left + (b.width - _width(draw, letter, px, True)) / 2, b.top + (b.height - px) / 2), letter,
              px, WHITE, bold=True)
    elif style in ("title", "title-dialog", "toolbar-title"):
        _text(draw, node, INK)
    elif style in ("body", "item-summary"):
        _text(draw, node, GREY)
    elif style == "item-title":
        _text(draw, node, INK)
    elif style == "subhead":
        _text(draw, node, BLUE, bold=True)
    elif style == "button-primary":
        draw.rounded_rectangle(box, radius=dp(4), fill=BLUE if node.enabled else LIGHT)
        _text(draw, node, WHITE if node.enabled else GREY, bold=True, center=True)
    elif style == "button-text":
        _text(draw, node, BLUE if node.enabled else (154, 160, 166), bold=True, center=True)
    elif style == "switch":
        _switch(draw, node)
    elif style == "checkbox":
        _checkbox(draw, node)
    elif style == "spinner":
        draw.line((b.left, b.bottom - dp(2), b.right, b.bottom - dp(2)), fill=BLUE, width=dp(2))
        draw.polygon([(b.right - dp(24), b.top + dp(22)), (b.right - dp(8), b.top + dp(22)),
                      (b.right - dp(16), b.top + dp(30))], fill=GREY)
    elif style == "edit":
        draw.rounded_rectangle(box, radius=dp(4), outline=BLUE if node.focused else GREY, width=dp(1))
        inner = ViewNode(node.cls, node.package, Rect(b.left + dp(16), b.top + dp(16), b.right, b.bottom),
                         lines=node.lines, font_px=node.font_px)
        _text(draw, inner, INK if node.text else (128, 134, 139))
    elif style == "progress":
        draw.rectangle((b.left, b.top, b.right, b.bottom), fill=(210, 227, 252))
        draw.rectangle((b.left, b.top, b.left + b.width // 3, b.bottom), fill=BLUE)
    elif style == "footer":
        draw.rectangle(box, fill=WHITE)
        draw.line((b.left, b.top, b.right, b.top), fill=(241, 243, 244), width=dp(1))
    elif style == "toolbar":
        draw.rectangle(box, fill=(241, 243, 244))
    elif style == "smartspace":
        _text(draw, node, WHITE)
    elif style == "launcher-icon":
        _launcher_icon(draw, node)
    elif style == "search-bar":
        draw.rounded_rectangle(box, radius=b.height // 2, fill=WHITE)
        hint = ViewNode(node.cls, node.package, Rect(b.left + dp(56), b.top + dp(12), b.right, b.bottom),
                        lines=node.lines, font_px=node.font_px)
        _text(draw, hint, GREY)
        draw.ellipse((b.left + dp(16), b.top + dp(12), b.left + dp(40), b.top + dp(36)), fill=BLUE)
    elif style == "handle":
        cx = (b.left + b.right) // 2
        draw.line((cx - dp(12), b.bottom - dp(10), cx, b.top + dp(10), cx + dp(12), b.bottom - dp(10)), fill=WHITE,
                  width=dp(2))
    else:
        _chrome(draw, node)
    if node.scrollable and node.cls == "android.widget.ScrollView":
        # scrolled content is drawn whole on a copy, and only the viewport is kept
        layer = img.copy()
        layer_draw = ImageDraw.Draw(layer)
        for child in node.children:
            _draw(layer, layer_draw, child)
        img.paste(layer.crop(box), box[:2])
        return
    for child in node.children:
        _draw(img, draw, child)


def render(frame: Frame) -> Image.Image:
    """Paint the app window, then any dialogs over a dimming scrim, then the system bars."""
    img = Image.new("RGB", (display.WIDTH, display.HEIGHT), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    apps = [w for w in frame.windows if all(w is not bar for bar in frame.bars)]
    for window in [*reversed(apps), *frame.bars]:
        if window.style == "dialog-card":
            img.paste(Image.blend(img, Image.new("RGB", img.size, (0, 0, 0)), 0.4))
            draw = ImageDraw.Draw(img)
        _draw(img, draw, window)
    return img


def screenshot(handset: VirtualHandset) -> Image.Image:
    """What the handset's screen shows now (black when it is off)."""
    state = ui_state(handset)
    if not state.system.screen_on:
        return Image.new("RGB", (display.WIDTH, display.HEIGHT), (0, 0, 0))
    return render(state.frame())


def current_png(handset: VirtualHandset) -> bytes:
    """`screencap -p`: the screen as PNG."""
    out = io.BytesIO()
    screenshot(handset).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def current_jpeg_base64(handset: VirtualHandset, scale: float = 1.0, quality: int = 80) -> str:
    """`takeScreenshot(scale, quality)`: base64 JPEG."""
    img = screenshot(handset)
    if 0 < scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=max(1, min(100, quality)))
    return base64.b64encode(out.getvalue()).decode("ascii")
