"""uiautomator2 on a Handset: reached through the handset's own adb server, with typed errors
and a bounded recovery when the on-device server dies.

    ui = handset.ui()
    ui.snapshot("read the screen")          # the dumped hierarchy, parsed
    ui.click(540, 1200, "press Start")
    ui.call("read a switch", lambda d: d(resourceId=...).info["checked"])   # any u2 call

Every call names its step; a failure is a UiError naming the handset and the step. A dead
uiautomator server (connection refused or reset, HTTP errors) is restarted and the call
retried, at most `recoveries` times; then UiServerError.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import adbutils
import uiautomator2 as u2
from uiautomator2 import exceptions as u2_errors

from devicelab.errors import DevicelabError, UiError, UiServerError
from devicelab.handset.hierarchy import HierarchyError, Snapshot, parse
from devicelab.handset.transport import LabAdbClient, stock_device
from devicelab.model.secret import redact

if TYPE_CHECKING:
    from devicelab.handset import Handset

log = logging.getLogger(__name__)
T = TypeVar("T")

#: the server or the way to it failed: restart it and try again
_SERVER_FAILURES: tuple[type[BaseException], ...] = (
    u2_errors.HTTPError, u2_errors.ConnectError, u2_errors.UiAutomationError, u2_errors.RPCInvalidError,
    adbutils.AdbError, OSError, http.client.HTTPException, json.JSONDecodeError,
)
#: the server answered, and the answer is a failure of the step itself
_STEP_FAILURES: tuple[type[BaseException], ...] = (u2_errors.BaseException,)


@dataclass(frozen=True)
class UiTimeouts:
    """Bounds of the UI layer, in host seconds."""

    #: the u2 server to answer /ping after it was started
    launch: float = 30.0
    #: one JSON-RPC request on its socket
    rpc: float = 120.0
    #: what u2's own selector waits (`d(text=..).click()`) use
    wait: float = 10.0
    #: server restarts per call before UiServerError
    recoveries: int = 2


class _BoundedDevice(u2.Device):  # type: ignore[misc]
    """u2's Device with a bounded server start (stock: a fixed 30 s), which closes the shell
    stream of a server that ended (stock u2 drops it open, and the socket leaks)."""

    def __init__(self, dev: Any, *, launch_timeout: float) -> None:
        self.launch_timeout = launch_timeout
        #: server launches after the first: u2 relaunches a server that died or stopped answering
        #: by itself, inside any call
        self.restarts = 0
        self._launched = False
        try:
            super().__init__(dev)
        except BaseException:
            self._close_stream(getattr(self, "_process", None))  # a start that failed half-way
            raise

    @staticmethod
    def _close_stream(process: Any) -> None:
        if process is not None:
            with contextlib.suppress(*_SERVER_FAILURES):
                process.kill()

    def _wait_ready(self, launch_timeout: float = 30.0) -> None:
        self._wait_app_process_ready(self.launch_timeout)

    def start_uiautomator(self) -> None:
        old = self._process
        try:
            super().start_uiautomator()
        finally:
            if old is not self._process:
                self._close_stream(old)
                if self._process is not None:  # a launch, not a check that found it alive
                    self.restarts += self._launched
                    self._launched = True


class HandsetUi:
    """uiautomator2 on one handset. `fast=False` keeps adbutils' stock transport (benchmarks)."""

    def __init__(self, handset: Handset, timeouts: UiTimeouts | None = None, *, fast: bool = True) -> None:
        self.handset = handset
        self.timeouts = timeouts or UiTimeouts()
        self.fast = fast
        self._reconnects = 0  # connections made afresh after a failure
        self._earlier_restarts = 0  # server restarts seen by connections since replaced
        self._device: u2.Device | None = None

    def __repr__(self) -> str:
        return f"HandsetUi({redact(self.serial)})"

    @property
    def recoveries(self) -> int:
        """Server restarts and reconnections so far, ours and uiautomator2's own (reports, tests)."""
        current = getattr(self._device, "restarts", 0)
        return self._reconnects + self._earlier_restarts + int(current)

    @property
    def serial(self) -> str:
        return self.handset.serial

    # -- the connection ------------------------------------------------------------------
    def adb_device(self) -> Any:
        """An adbutils device on the handset's own adb server (never the default one)."""
        server = self.handset.adb.client.server
        serial = self.handset.adb.adb_serial
        if not self.fast:
            return stock_device(server.host, server.port, serial)
        return LabAdbClient(server.host, server.port, rpc_timeout=self.timeouts.rpc).device(serial)

    def device(self) -> u2.Device:
        """The connected u2 device (connects, starting the on-device server, on first use)."""
        if self._device is None:
            self._device = self.call("connect uiautomator2", lambda d: d)
        return self._device

    def _connect(self) -> u2.Device:
        device = _BoundedDevice(self.adb_device(), launch_timeout=self.timeouts.launch)
        device.settings["wait_timeout"] = self.timeouts.wait
        return device

    def close(self) -> None:
        """Stop the on-device server this connection started (it ends with its shell stream)."""
        device, self._device = self._device, None
        if device is not None:
            self._earlier_restarts += int(getattr(device, "restarts", 0))
            try:
                device.stop_uiautomator(wait=False)
            except (*_SERVER_FAILURES, *_STEP_FAILURES) as exc:
                log.debug("[%s] stopping uiautomator: %s", self.serial, exc)

    # -- calls ---------------------------------------------------------------------------
    def call(self, step: str, action: Callable[[u2.Device], T]) -> T:
        """Run one u2 action; a dead server is restarted (bounded) and the action retried."""
        attempts = self.timeouts.recoveries + 1
        detail = ""
        for attempt in range(attempts):
            try:
                if self._device is None:
                    self._device = self._connect()
                return action(self._device)
            except _SERVER_FAILURES as exc:
                detail = f"{type(exc).__name__}: {exc}"
                log.warning("[%s] %s: uiautomator server failed (%s); attempt %d of %d", self.serial, step, detail,
                            attempt + 1, attempts)
                if attempt + 1 < attempts:
                    self._restart()
            except _STEP_FAILURES as exc:
                raise UiError(f"{type(exc).__name__}: {exc}", serial=self.serial, step=step,
                              detail=str(exc)) from None
        raise UiServerError(f"the uiautomator server did not answer after {attempts} attempts ({detail}); "
                            f"adb state: {self._adb_state()}", serial=self.serial, step=step, detail=detail)

    def _restart(self) -> None:
        device = self._device
        if device is None:
            self._reconnects += 1
            return  # not even connected: the next attempt connects afresh
        try:
            device.stop_uiautomator(wait=False)
            device.start_uiautomator()
        except (*_SERVER_FAILURES, *_STEP_FAILURES) as exc:
            log.warning("[%s] restarting uiautomator: %s", self.serial, exc)
            self._earlier_restarts += int(getattr(device, "restarts", 0))
            self._device = None  # start over from a new connection, without the old one's stream
            with contextlib.suppress(*_SERVER_FAILURES, *_STEP_FAILURES):
                device.stop_uiautomator(wait=False)

    def _adb_state(self) -> str:
        try:
            return str(self.handset.adb.state())
        except DevicelabError as exc:
            return f"unknown ({exc})"

    # -- what flows use ------------------------------------------------------------------
    def dump(self, step: str = "dump hierarchy") -> str:
        xml: str = self.call(step, lambda d: d.dump_hierarchy())
        return xml

    def snapshot(self, step: str = "read the screen") -> Snapshot:
        xml = self.dump(step)
        try:
            return parse(xml)
        except HierarchyError as exc:
            raise UiError(f"the handset returned no usable hierarchy: {exc}", serial=self.serial, step=step,
                          detail=xml[:200]) from None

    def click(self, x: int, y: int, step: str) -> None:
        self.call(step, lambda d: d.click(x, y))

    def swipe(self, fx: int, fy: int, tx: int, ty: int, step: str, duration: float = 0.1) -> None:
        self.call(step, lambda d: d.swipe(fx, fy, tx, ty, duration))

    def press(self, key: str, step: str = "") -> None:
        self.call(step or f"press {key}", lambda d: d.press(key))

    def window_size(self) -> tuple[int, int]:
        width, height = self.call("window size", lambda d: d.window_size())
        return int(width), int(height)

    def screenshot_png(self) -> bytes:
        """The screen as PNG, through adb (works when the u2 server does not)."""
        return self.handset.screenshot()


def timed(ui: HandsetUi, rounds: int, action: Callable[[u2.Device], object]) -> list[float]:
    """Seconds per call of `action`, `rounds` times (benchmarks and latency checks)."""
    device = ui.device()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action(device)
        samples.append(time.perf_counter() - start)
    return samples
