"""The flow engine: read the screen, recognise it, do what the test's choices ask there, repeat
until home.

On each screen: toggles first (each set to the chosen value, scrolling to find those below the
fold), then the steps that apply to the choices, each press waited on until the screen reacts.
Pop-ups are pressed away, wait screens waited out. An unknown screen stops the flow with its
hierarchy and screenshot; every wait has a bound (devicelab.flows.watchers.Pace).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devicelab.errors import FlowError, FlowTimeoutError, UnknownScreenError
from devicelab.flows import evidence
from devicelab.flows.choices import Choices
from devicelab.flows.model import Screen, Step, WizardFlow
from devicelab.flows.recognise import Recognised, describe_window, find
from devicelab.flows.result import FlowResult, Visit
from devicelab.flows.watchers import Driver, Pace, Watch
from devicelab.handset.hierarchy import Node, Snapshot, Window

log = logging.getLogger(__name__)


@dataclass
class _Stay:
    """The flow's progress on the screen it is on."""

    screen: Screen
    visit: Visit
    toggles_done: set[str] = field(default_factory=set)
    presses: dict[str, int] = field(default_factory=dict)
    steps_done: int = 0
    scrolls: int = 0
    backward: bool = False
    retries: int = 0


class FlowRun:
    """One first boot through one flow on one handset's UI."""

    def __init__(self, driver: Driver, flow: WizardFlow, choices: Choices, *, pace: Pace | None = None,
                 evidence_dir: Path | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.driver = driver
        self.flow = flow
        self.choices = choices
        self.pace = pace or Pace()
        self.evidence_dir = evidence_dir
        self.watch = Watch(driver, flow, self.pace, clock, sleep)
        self.clock = clock
        self.result = FlowResult(flow.family, driver.serial, choices)
        self.stay: _Stay | None = None
        self.paused: _Stay | None = None  # the screen a pop-up came over, resumed when it is back
        self.last_screen = "(none yet)"

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> FlowResult:
        start = self.clock()
        deadline = start + self.pace.total
        snapshot, seen = self.watch.read(self._step("read the screen"))
        for _ in range(self.pace.max_actions):
            if self.clock() > deadline:
                raise self._error(FlowTimeoutError, f"first boot did not reach home within {self.pace.total:.0f} s")
            if seen.kind == "unknown":
                snapshot, seen = self.watch.settles(self._step("wait for a known screen"), self.pace.settle)
                if seen.kind == "unknown":
                    raise self._unknown(snapshot, seen)
            if seen.kind == "home":
                self.result.reached_home = True
                break
            screen, window = seen.screen, seen.window
            assert screen is not None
            assert window is not None
            stay = self._arrive(screen)
            if screen.kind == "wait":
                snapshot, seen = self._wait_out(screen, snapshot)
            else:
                snapshot, seen = self._act(stay, window, snapshot)
        else:
            raise self._error(FlowTimeoutError,
                              f"no home after {self.pace.max_actions} actions: going round in circles?")
        self.result.seconds = self.clock() - start
        return self.result

    def _arrive(self, screen: Screen) -> _Stay:
        stay = self.stay
        again = screen.kind == "popup" and stay is not None and stay.steps_done > 0  # a new one of the same
        if stay is not None and stay.screen.id == screen.id and not again:
            return stay
        interruption = screen.kind in ("popup", "wait")
        if interruption and stay is not None and stay.screen.kind not in ("popup", "wait"):
            self.paused = stay
        elif not interruption and self.paused is not None and self.paused.screen.id == screen.id:
            self.stay, self.paused = self.paused, None  # back from a pop-up: go on where the flow was
            return self.stay
        elif not interruption:
            self.paused = None
        visit = Visit(screen.id, screen.kind)
        self.result.visits.append(visit)
        self.stay = _Stay(screen, visit)
        if not interruption:
            self.last_screen = screen.id
        log.info("[%s] %s: %s", self.driver.serial, self.flow.family, screen.id)
        return self.stay

    # -- one screen ----------------------------------------------------------------------
    def _act(self, stay: _Stay, window: Window, snapshot: Snapshot) -> tuple[Snapshot, Recognised]:
        screen, values = stay.screen, self.choices.placeholders()
        for toggle in screen.toggles:
            if toggle.name in stay.toggles_done:
                continue
            node = find(toggle.target, window, values)
            if node is None:
                continue
            wanted = self.choices.value_of(toggle)
            if node.checked != wanted:
                pressed = stay.presses.get(toggle.name, 0)
                if pressed >= 2:
                    raise self._error(FlowError, f"{toggle.name} ({node.describe()}) stays "
                                      f"{_onoff(node.checked)} after {pressed} presses")
                stay.presses[toggle.name] = pressed + 1
                stay.visit.actions.append(f"{toggle.name}: {_onoff(node.checked)} -> {_onoff(wanted)}")
                return self._press(node, f"turn {toggle.name} {_onoff(wanted)}", snapshot)
            stay.toggles_done.add(toggle.name)
            self.result.toggles[toggle.name] = wanted
            if toggle.fixed is None:
                self.result.consents[toggle.name] = wanted
            if not any(a.startswith(f"{toggle.name}:") for a in stay.visit.actions):
                stay.visit.actions.append(f"{toggle.name}: {_onoff(wanted)} (as found)")
        missing = [t.name for t in screen.toggles if t.name not in stay.toggles_done and not t.may_be_absent]
        if missing:
            return self._scroll(stay, window, snapshot, f"toggle {missing[0]!r}")
        steps = [s for s in screen.steps if self.choices.allows(s.when)]
        if not steps:
            raise self._error(FlowError,
                              f"screen {screen.id!r} has no step for the choices ({self.choices.describe()})")
        if stay.steps_done >= len(steps):  # pressed the last one and still here: press it again, once
            if stay.retries >= 1:
                raise self._error(FlowTimeoutError, f"still on {screen.id!r} after pressing "
                                  f"{steps[-1].click.describe()} twice")
            stay.retries += 1
            stay.steps_done = len(steps) - 1
        step = steps[stay.steps_done]
        node = find(step.click, window, values)
        if node is None:
            return self._scroll(stay, window, snapshot, step.click.describe())
        if not node.enabled:
            return self._wait_enabled(step, node, snapshot)
        stay.steps_done += 1
        what = f"press {step.click.describe(values)}"
        stay.visit.actions.append(what)
        return self._press(node, what, snapshot)

    def _press(self, node: Node, what: str, before: Snapshot) -> tuple[Snapshot, Recognised]:
        x, y = node.center
        step = self._step(what)
        for _attempt in range(2):  # a real screen may drop a tap during an animation
            self.driver.click(x, y, step)
            after = self.watch.changed(before, step, self.pace.react)
            if after is not None:
                return after
        raise self._error(FlowTimeoutError, f"the screen did not react to {what} ({node.describe()}) "
                          f"within {self.pace.react:.1f} s, twice")

    def _scroll(self, stay: _Stay, window: Window, snapshot: Snapshot, looking_for: str) -> tuple[Snapshot, Recognised]:
        """Forward (the `more` button, else a swipe up) until the page ends, then back up: a
        screen may come back from a pop-up scrolled."""
        if stay.scrolls >= self.pace.max_scrolls:
            raise self._error(FlowError, f"{looking_for} is not on {stay.screen.id!r} "
                              f"after {stay.scrolls} scrolls; the screen shows {describe_window(window)}")
        stay.scrolls += 1
        direction = "back" if stay.backward else "forward"
        stay.visit.actions.append(f"scroll {direction} for {looking_for}")
        step = self._step(f"scroll {direction} to find {looking_for}")
        more = find(stay.screen.more, window, self.choices.placeholders()) if stay.screen.more else None
        if stay.backward:
            fx, fy, tx, ty = _swipe_up(window)
            self.driver.swipe(tx, ty, fx, fy, step)
        elif more is not None:
            self.driver.click(*more.center, step)
        else:
            self.driver.swipe(*_swipe_up(window), step)
        after = self.watch.changed(snapshot, step, self.pace.react)
        if after is not None:
            return after
        if not stay.backward:
            stay.backward = True
            return snapshot, Recognised("screen", window, stay.screen)
        raise self._error(FlowError, f"{looking_for} is not on {stay.screen.id!r}: the screen does not "
                          f"scroll any further; it shows {describe_window(window)}")

    def _wait_enabled(self, step: Step, node: Node, snapshot: Snapshot) -> tuple[Snapshot, Recognised]:
        what = self._step(f"wait for {step.click.describe()} to be enabled")
        after = self.watch.changed(snapshot, what, self.pace.react)
        if after is None:
            raise self._error(FlowTimeoutError, f"{node.describe()} stays disabled "
                              f"({self.pace.react:.1f} s): a required choice is missing from the flow data?")
        return after

    def _wait_out(self, screen: Screen, snapshot: Snapshot) -> tuple[Snapshot, Recognised]:
        after = self.watch.passes(screen.id, self._step(f"wait for {screen.id} to pass"), screen.passes_within)
        if after is None:
            raise self._error(FlowTimeoutError, f"{screen.id!r} did not pass within {screen.passes_within:.0f} s")
        self.stay = None
        return after

    # -- failures ------------------------------------------------------------------------
    def _step(self, what: str) -> str:
        return f"first boot ({self.flow.family}) at {self.last_screen}: {what}"

    def _error(self, cls: type[FlowError], message: str) -> FlowError:
        return cls(message, serial=self.driver.serial, step=self._step("flow"), family=self.flow.family,
                   last_screen=self.last_screen)

    def _unknown(self, snapshot: Snapshot, seen: Recognised) -> UnknownScreenError:
        try:
            screenshot = self.driver.screenshot_png()
        except Exception as exc:  # the screenshot is a courtesy; the unknown screen is the error
            log.warning("[%s] no screenshot of the unknown screen: %s", self.driver.serial, exc)
            screenshot = b""
        name = f"unknown-screen-after-{self.last_screen}"
        kept = evidence.keep(name, snapshot.xml, screenshot, self.evidence_dir)
        where = f"; hierarchy and screenshot in {kept.folder}" if kept.folder is not None else ""
        return UnknownScreenError(
            f"unknown screen after {self.last_screen!r} ({describe_window(seen.window)}){where}",
            serial=self.driver.serial, step=self._step("recognise the screen"), family=self.flow.family,
            last_screen=self.last_screen, hierarchy=snapshot.xml, screenshot=screenshot,
            evidence_dir=str(kept.folder or ""))


def _onoff(value: bool) -> str:
    return "on" if value else "off"


def _swipe_up(window: Window) -> tuple[int, int, int, int]:
    """A finger moving up across the window's scrollable area (content moves forward)."""
    area = next((n.bounds for n in window.nodes if n.scrollable and n.visible), None)
    if area is None:
        area = window.nodes[0].bounds if window.nodes else (0, 0, 1080, 1920)
    left, top, right, bottom = area
    x = (left + right) // 2
    return x, top + (bottom - top) * 3 // 4, x, top + (bottom - top) // 4

