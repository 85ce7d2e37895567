"""What the outside world does to a running virtual system: input events (`input tap`,
`input keyevent`) and intents (`am start`, `am broadcast`). The shell records them; the UI
and app models subscribe to react."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

#: Android key codes the lab uses by name (KeyEvent.KEYCODE_*).
KEYCODES = {
    "UNKNOWN": 0, "SOFT_LEFT": 1, "SOFT_RIGHT": 2, "HOME": 3, "BACK": 4, "CALL": 5, "ENDCALL": 6,
    **{str(d): 7 + d for d in range(10)},
    "STAR": 17, "POUND": 18, "DPAD_UP": 19, "DPAD_DOWN": 20, "DPAD_LEFT": 21, "DPAD_RIGHT": 22,
    "DPAD_CENTER": 23, "VOLUME_UP": 24, "VOLUME_DOWN": 25, "POWER": 26, "CAMERA": 27, "CLEAR": 28,
    **{chr(ord("A") + i): 29 + i for i in range(26)},
    "COMMA": 55, "PERIOD": 56, "TAB": 61, "SPACE": 62, "ENTER": 66, "DEL": 67, "MENU": 82,
    "NOTIFICATION": 83, "SEARCH": 84, "MEDIA_PLAY_PAUSE": 85, "PAGE_UP": 92, "PAGE_DOWN": 93,
    "ESCAPE": 111, "FORWARD_DEL": 112, "MOVE_HOME": 122, "MOVE_END": 123, "VOLUME_MUTE": 164,
    "APP_SWITCH": 187, "SLEEP": 223, "WAKEUP": 224, "ASSIST": 219, "VOICE_ASSIST": 231,
}


def keycode(name: str) -> int | None:
    """`3`, `HOME` or `KEYCODE_HOME` -> 3; None when Android would not know it."""
    if name.isdecimal():
        return int(name) if int(name) < 1000 else None
    key = name.upper().removeprefix("KEYCODE_")
    return KEYCODES.get(key)


@dataclass(frozen=True)
class InputEvent:
    """One injected input: kind is tap, swipe, draganddrop, keyevent, text, press or roll."""

    kind: str
    time: float
    x: float = 0.0
    y: float = 0.0
    x2: float = 0.0
    y2: float = 0.0
    duration_ms: int = 0
    keycode: int = 0
    longpress: bool = False
    text: str = ""
    source: str = ""


@dataclass(frozen=True)
class Intent:
    """An intent as `am` builds it."""

    action: str = ""
    data: str = ""
    mime_type: str = ""
    categories: tuple[str, ...] = ()
    component: str = ""
    package: str = ""
    flags: int = 0
    extras: tuple[tuple[str, str], ...] = ()

    def short(self) -> str:
        """Intent.toShortString(): `act=... cat=[...] dat=... flg=0x... cmp=... (has extras)`."""
        parts = []
        if self.action:
            parts.append(f"act={self.action}")
        if self.categories:
            parts.append("cat=[" + ",".join(self.categories) + "]")
        if self.data:
            parts.append(f"dat={self.data}")
        if self.mime_type:
            parts.append(f"typ={self.mime_type}")
        if self.flags:
            parts.append(f"flg=0x{self.flags:x}")
        if self.package:
            parts.append(f"pkg={self.package}")
        if self.component:
            parts.append(f"cmp={self.component}")
        if self.extras:
            parts.append("(has extras)")
        return " ".join(parts)

    def __str__(self) -> str:
        return "Intent { " + self.short() + " }"


E = TypeVar("E")

#: A subscriber returns True when it handled the event (the system's default is then skipped).
Listener = Callable[[E], bool]


@dataclass
class EventLog(Generic[E]):
    """A bounded record of events plus the subscribers that react to them."""

    capacity: int = 10_000
    events: deque[E] = field(default_factory=deque)
    listeners: list[Listener[E]] = field(default_factory=list)

    def publish(self, event: E) -> bool:
        """Record the event and offer it to each subscriber; True if one handled it."""
        self.events.append(event)
        while len(self.events) > self.capacity:
            self.events.popleft()
        handled = False
        for listener in list(self.listeners):
            handled = listener(event) or handled
        return handled

    def subscribe(self, listener: Listener[E]) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self.listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)

        return unsubscribe
