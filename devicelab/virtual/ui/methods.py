"""The AutomatorService methods of the u2 server, over the virtual screen.

Signatures and result shapes follow openatx/android-uiautomator-server (AutomatorService,
DeviceInfo, ObjInfo); overloads are told apart by their parameter types, as jsonrpc4j does.
UiSelector searches cover the active window only (the top dialog, else the app), as
`UiDevice.findObject` does; the hierarchy dump shows every window.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devicelab.virtual.events import InputEvent
from devicelab.virtual.ui import display, render
from devicelab.virtual.ui.device import KEYCODES, UiState, ui_state
from devicelab.virtual.ui.hierarchy import ViewNode, dump_xml
from devicelab.virtual.ui.rpc import NOT_IMPLEMENTED, ObjectNotFound, RpcError, arg, invalid, method
from devicelab.virtual.ui.selectors import find_all, parse_selector

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

MAX_WAIT_MS = 600_000  # waits are bounded whatever the client asks
POLL_SECONDS = 0.02

Resolver = Callable[[list[ViewNode]], list[ViewNode]]


class Session:
    """One running u2 server: the handset it drives and the UiObjects it has named."""

    def __init__(self, handset: VirtualHandset) -> None:
        self.handset = handset
        self.objects: dict[str, Resolver] = {}
        self._names = itertools.count(1)
        self.touch_down: tuple[float, float] | None = None

    @property
    def ui(self) -> UiState:
        return ui_state(self.handset)

    def name(self, resolver: Resolver) -> str:
        key = f"{next(self._names):x}-{id(resolver) & 0xFFFF:04x}"
        self.objects[key] = resolver
        return key

    def resolver(self, obj: Any) -> tuple[Resolver, str]:
        """A selector dict or the name of a stored UiObject -> (search, description)."""
        if isinstance(obj, str):
            found = self.objects.get(obj)
            if found is None:
                raise ObjectNotFound(f"no UiObject named {obj!r}")
            return found, obj
        if isinstance(obj, dict):
            selector = parse_selector(obj)
            return (lambda roots: find_all(roots, selector)), str(selector)
        raise invalid(f"expected a selector or a UiObject name, got {type(obj).__name__}")

    def find_all(self, obj: Any) -> list[ViewNode]:
        search, _ = self.resolver(obj)
        return search([self.ui.frame().active])

    def find(self, obj: Any) -> ViewNode:
        search, what = self.resolver(obj)
        found = search([self.ui.frame().active])
        if not found:
            raise ObjectNotFound(what)
        return found[0]

    async def wait(self, obj: Any, timeout_ms: int, *, gone: bool) -> bool:
        deadline = asyncio.get_running_loop().time() + min(max(timeout_ms, 0), MAX_WAIT_MS) / 1000
        while True:
            if bool(self.find_all(obj)) != gone:
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(POLL_SECONDS)


# -- the device ----------------------------------------------------------------------------
@method("ping")
async def _ping(s: Session, p: list[Any]) -> str:
    return "pong"


@method("deviceInfo")
async def _device_info(s: Session, p: list[Any]) -> dict[str, Any]:
    ui = s.ui
    sdk = ui.system.getprop("ro.build.version.sdk")
    return {
        "currentPackageName": ui.package,
        "displayHeight": display.APP_HEIGHT,
        "displayRotation": 0,
        "displaySizeDpX": display.size_dp(display.WIDTH),
        "displaySizeDpY": display.size_dp(display.HEIGHT),
        "displayWidth": display.WIDTH,
        "productName": ui.system.getprop("ro.product.name"),
        "screenOn": ui.system.screen_on,
        "sdkInt": int(sdk) if sdk.isdigit() else 0,
        "naturalOrientation": True,
    }


@method("dumpWindowHierarchy")
async def _dump(s: Session, p: list[Any]) -> str:
    compressed = arg(p, 0, bool, "compressed", False)
    max_depth = arg(p, 1, int, "maxDepth", 50)
    active_only = arg(p, 2, bool, "rootInActive", False)
    frame = s.ui.frame()
    return dump_xml([frame.active] if active_only else frame.windows, max_depth=max_depth, compressed=compressed)


@method("takeScreenshot")
async def _screenshot(s: Session, p: list[Any]) -> str:
    if p and isinstance(p[0], str):
        raise RpcError(NOT_IMPLEMENTED, "takeScreenshot to a file",
                       "com.github.uiautomator.stub.exceptions.NotImplementedException")
    scale = arg(p, 0, float, "scale", 1.0)
    quality = arg(p, 1, int, "quality", 80)
    return render.current_jpeg_base64(s.handset, scale, quality)


def _inject_key(s: Session, code: int) -> None:
    """A key press goes through the system's input, as on a device: the screen and every app
    listening for screen-on or unlock see it."""
    system = s.ui.system
    system.inject_input(InputEvent("keyevent", system.clock.now(), keycode=code, source="uiautomator"))


@method("pressKey")
async def _press_key(s: Session, p: list[Any]) -> bool:
    code = KEYCODES.get(arg(p, 0, str, "key").lower())
    if code is None:
        return False
    _inject_key(s, code)
    return True


@method("pressKeyCode")
async def _press_key_code(s: Session, p: list[Any]) -> bool:
    arg(p, 1, int, "metaState", 0)
    _inject_key(s, arg(p, 0, int, "keyCode"))
    return True


@method("wakeUp")
async def _wake_up(s: Session, p: list[Any]) -> None:
    _inject_key(s, KEYCODES["wakeup"])


@method("sleep")
async def _sleep(s: Session, p: list[Any]) -> None:
    _inject_key(s, KEYCODES["sleep"])


@method("isScreenOn")
async def _is_screen_on(s: Session, p: list[Any]) -> bool:
    return s.ui.system.screen_on


LONG_PRESS_MS = 400  # a press held this long is a long press, which no virtual view reacts to


def _corner(node: ViewNode, corner: str) -> tuple[float, float]:
    b = node.bounds
    near = {"tl": (b.left + 5, b.top + 5), "topleft": (b.left + 5, b.top + 5),
            "br": (b.right - 5, b.bottom - 5), "bottomright": (b.right - 5, b.bottom - 5)}
    return near.get(corner.lower(), b.center())


@method("click", "clickAndWaitForNewWindow")
async def _click(s: Session, p: list[Any]) -> bool:
    """click(x, y[, ms]), click(obj[, corner]), clickAndWaitForNewWindow(obj, timeout)."""
    if p and isinstance(p[0], int | float) and not isinstance(p[0], bool):
        x, y = arg(p, 0, float, "x"), arg(p, 1, float, "y")
        if arg(p, 2, int, "milliseconds", 0) >= LONG_PRESS_MS:
            return True
        return s.ui.tap(x, y)
    node = s.find(p[0] if p else None)
    waits_for_window = len(p) > 1 and isinstance(p[1], int) and not isinstance(p[1], bool)
    corner = p[1] if len(p) > 1 and isinstance(p[1], str) else "center"
    before = s.ui.focus()
    s.ui.tap(*_corner(node, corner))
    return s.ui.focus() != before if waits_for_window else True


@method("longClick")
async def _long_click(s: Session, p: list[Any]) -> bool:
    s.find(p[0] if p else None)
    return True


@method("swipe")
async def _swipe(s: Session, p: list[Any]) -> bool:
    if p and isinstance(p[0], dict | str):  # swipe(obj, dir, [percent,] steps)
        node = s.find(p[0])
        direction = arg(p, 1, str, "dir").lower()
        if node.scrollable and direction in ("u", "up", "d", "down"):
            s.ui.scroll(direction.startswith("u"))  # finger up: content moves on
        return True
    coords = [arg(p, i, float, n) for i, n in enumerate(("startX", "startY", "endX", "endY"))]
    arg(p, 4, int, "steps", 10)
    return s.ui.swipe(*coords)


@method("swipePoints")
async def _swipe_points(s: Session, p: list[Any]) -> bool:
    points = arg(p, 0, list, "segments")
    if len(points) < 4 or any(isinstance(v, bool) or not isinstance(v, int | float) for v in points):
        raise invalid("segments must be at least two x,y pairs of numbers")
    return s.ui.swipe(points[0], points[1], points[-2], points[-1])


@method("drag")
async def _drag(s: Session, p: list[Any]) -> bool:
    for i, n in enumerate(("startX", "startY", "endX", "endY", "steps")):
        arg(p, i, float, n)
    return True


@method("injectInputEvent")
async def _inject(s: Session, p: list[Any]) -> bool:
    action, x, y = arg(p, 0, int, "action"), arg(p, 1, float, "x"), arg(p, 2, float, "y")
    if action == 0:  # ACTION_DOWN
        s.touch_down = (x, y)
    elif action == 1 and s.touch_down is not None:  # ACTION_UP: a tap, or a swipe
        (fx, fy), s.touch_down = s.touch_down, None
        if abs(fx - x) < 24 and abs(fy - y) < 24:
            return s.ui.tap(x, y)
        return s.ui.swipe(fx, fy, x, y)
    return True


# -- toasts, clipboard, text input ---------------------------------------------------------
@method("makeToast")
async def _make_toast(s: Session, p: list[Any]) -> bool:
    s.ui.toast = arg(p, 0, str, "text")
    return True


@method("getLastToast")
async def _last_toast(s: Session, p: list[Any]) -> str | None:
    return s.ui.toast


@method("clearLastToast")
async def _clear_toast(s: Session, p: list[Any]) -> bool:
    s.ui.toast = None
    return True


@method("setClipboard")
async def _set_clipboard(s: Session, p: list[Any]) -> None:
    arg(p, 0, (str, type(None)), "label", None)
    s.ui.clipboard = arg(p, 1, str, "text")


@method("getClipboard")
async def _get_clipboard(s: Session, p: list[Any]) -> str | None:
    return s.ui.clipboard


@method("pasteClipboard")
async def _paste(s: Session, p: list[Any]) -> None:
    if s.ui.clipboard:
        s.ui.type_text(s.ui.clipboard)


@method("clearInputText")
async def _clear_input(s: Session, p: list[Any]) -> None:
    ui = s.ui
    if ui.wizard is not None and ui.focused_key:
        ui.wizard.set_text(ui.focused_key, "")
        ui.version += 1


# -- things the lab does not model: accepted, no effect --------------------------------------
@method("freezeRotation", "setOrientation", "clearLastTraversedText", "waitForIdle", "setToastListener",
        "registerClickUiObjectWatcher", "registerPressKeyskWatcher", "removeWatcher", "resetWatcherTriggers",
        "runWatchers")
async def _accepted(s: Session, p: list[Any]) -> None:
    return None


@method("openNotification", "openQuickSettings")
async def _true(s: Session, p: list[Any]) -> bool:
    return True


@method("hasWatcherTriggered", "hasAnyWatcherTriggered", "playSound")
async def _false(s: Session, p: list[Any]) -> bool:
    return False


@method("getLastTraversedText")
async def _none(s: Session, p: list[Any]) -> None:
    return None


@method("getWatchers")
async def _empty(s: Session, p: list[Any]) -> list[str]:
    return []


@method("getConfigurator", "setConfigurator")
async def _configurator(s: Session, p: list[Any]) -> dict[str, int]:
    return {"actionAcknowledgmentTimeout": 3000, "keyInjectionDelay": 0, "scrollAcknowledgmentTimeout": 200,
            "waitForIdleTimeout": 10000, "waitForSelectorTimeout": 0}


@method("waitForWindowUpdate")
async def _wait_window(s: Session, p: list[Any]) -> bool:
    arg(p, 0, (str, type(None)), "packageName", None)
    timeout = min(max(arg(p, 1, int, "timeout"), 0), MAX_WAIT_MS) / 1000
    start = s.ui.version
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        s.ui.tick()
        if s.ui.version != start:
            return True
        await asyncio.sleep(POLL_SECONDS)
    return False

