"""`ProxyThread`: a mitmproxy Master on a private event loop in a daemon thread.

Not DumpMaster: it prints to stdout and calls sys.exit on start-up errors (which only ends the
thread). The Master is built inside a coroutine on its own loop and sets the process-global
`mitmproxy.ctx`: one running Master per process (a second start raises CaptureError).
Shutdown stops the servers first (`servers.update([])`): Master.shutdown() alone leaves the
listening socket open (mitmproxy#6829).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

with warnings.catch_warnings():
    # mitmproxy's proxyauth addon imports ldap3 (pyasn1 names deprecated in pyasn1 0.6) and passlib
    # (the stdlib `crypt` module, deprecated in 3.11): third-party noise at import time only
    warnings.filterwarnings("ignore", r"(tagMap|typeMap) is deprecated", DeprecationWarning)
    warnings.filterwarnings("ignore", r"'crypt' is deprecated", DeprecationWarning)
    from mitmproxy import addons
    from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy import options
from mitmproxy.exceptions import OptionsError
from mitmproxy.master import Master

from devicelab.errors import CaptureError

log = logging.getLogger(__name__)
#: seconds open client connections get to close at shutdown
CLOSE_GRACE = 2.0
_ONE_PER_PROCESS = threading.Lock()
T = TypeVar("T")


class _Running:
    """Addon: reads the real listen addresses and start-up failures when the proxy is up."""

    def __init__(self, owner: ProxyThread) -> None:
        self.owner = owner

    def running(self) -> None:
        from mitmproxy import ctx

        server = ctx.master.addons.get("proxyserver")  # type: ignore[no-untyped-call]
        failures = [f"{inst.mode.full_spec}: {inst.last_exception}" for inst in server.servers if inst.last_exception]
        addrs = [(str(a[0]), int(a[1])) for a in server.listen_addrs()]
        if not failures and not addrs:
            failures.append("no server is listening")
        self.owner._started("; ".join(failures), addrs)


class ProxyThread:
    """Runs one Master with the default addons plus `extra` addons and `opts` (set after adding)."""

    def __init__(self, extra: Sequence[object], opts: dict[str, Any], *, name: str = "capture") -> None:
        self.extra = list(extra)
        self.opts = dict(opts)
        self.name = name
        self.listen_addrs: list[tuple[str, int]] = []
        self._master: Master | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error = ""
        self._holds_lock = False

    @property
    def master(self) -> Master | None:
        return self._master

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float) -> list[tuple[str, int]]:
        """Start and wait (bounded) until the servers listen; returns their addresses."""
        if not _ONE_PER_PROCESS.acquire(blocking=False):
            raise CaptureError("a capture is already running in this process (mitmproxy allows one per process)")
        self._holds_lock = True
        self._thread = threading.Thread(target=self._main, name=f"devicelab-{self.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop(timeout)
            raise CaptureError(f"the proxy did not start within {timeout:.0f} s")
        if self._error:
            error = self._error
            self.stop(timeout)
            raise CaptureError(f"the proxy could not start: {error}")
        return self.listen_addrs

    def stop(self, timeout: float) -> None:
        """Stop the servers, then the Master; wait (bounded) for the thread. Safe to call twice."""
        loop, thread = self._loop, self._thread
        try:
            if loop is not None and thread is not None and thread.is_alive():
                with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                    asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            if thread is not None:
                thread.join(timeout)
                if thread.is_alive():
                    raise CaptureError(f"the proxy thread did not stop within {timeout:.0f} s")
        finally:
            self._thread = None if thread is None or not thread.is_alive() else thread
            if self._holds_lock and self._thread is None:
                self._holds_lock = False
                _ONE_PER_PROCESS.release()

    def call(self, work: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Run `work()` on the proxy's loop (where mitmproxy's state may be touched); its result."""
        loop = self._loop
        if loop is None or not self.running:
            raise CaptureError("the proxy is not running")
        future = asyncio.run_coroutine_threadsafe(_awaited(work), loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise CaptureError(f"the proxy did not answer within {timeout:.0f} s") from None

    # -- the proxy's own thread --------------------------------------------------------------------
    def _started(self, error: str, addrs: list[tuple[str, int]]) -> None:
        self._error, self.listen_addrs = error, addrs
        self._ready.set()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        except Exception as exc:  # any failure becomes the start error, never a dead silent thread
            log.exception("proxy thread failed")
            if not self._ready.is_set():
                self._started(f"{type(exc).__name__}: {exc}", [])
        finally:
            if not self._ready.is_set():
                self._started("the proxy stopped before it was running", [])
            _drain(loop)

    async def _run(self) -> None:
        master = Master(options.Options(), event_loop=asyncio.get_running_loop())
        master.addons.add(*addons.default_addons())  # type: ignore[no-untyped-call]
        master.addons.add(_Running(self), *self.extra)  # type: ignore[no-untyped-call]
        try:
            # addon options exist only once their addon is added
            master.options.update(**self.opts)  # type: ignore[no-untyped-call]
        except (OptionsError, KeyError) as exc:
            self._started(f"bad proxy option: {exc}", [])
            return
        self._master = master
        await master.run()

    async def _shutdown(self) -> None:
        master = self._master
        if master is None:
            return
        server: Proxyserver = master.addons.get("proxyserver")  # type: ignore[no-untyped-call]
        with contextlib.suppress(Exception):
            await server.servers.update([])
        await close_connections(server, CLOSE_GRACE)
        master.shutdown()  # type: ignore[no-untyped-call]


async def close_connections(server: Proxyserver, grace: float, only: Callable[[Any], bool] | None = None) -> None:
    """End open client connections (those `only` picks) the way a disconnect does, so their tasks
    finish and their sockets close instead of being cancelled (Python 3.11's asyncio logs a spurious
    error for a cancelled client_connected_cb task, and leaves its transport for the garbage
    collector). Connections accepted just before the servers stopped register late: every round
    closes what has registered since, until none is left or `grace` runs out."""
    end = time.monotonic() + grace
    for _ in range(3):
        await asyncio.sleep(0)
    while True:
        left = [h for h in list(server.connections.values()) if only is None or only(h)]
        if not left or time.monotonic() >= end:
            return
        for handler in left:
            for io in list(handler.transports.values()):
                if io.handler is not None:
                    io.handler.cancel()
                if io.writer is not None:
                    io.writer.close()
        await asyncio.sleep(0.01)


async def _awaited(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left (open client connections) and close the loop: no fd outlives a capture."""
    try:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        _abort_transports(loop)
    finally:
        loop.close()


def _abort_transports(loop: asyncio.AbstractEventLoop) -> None:
    """Close the sockets of connections whose task was cancelled before it could close them: one
    accepted as the proxy stopped registers too late for `close_connections`, and 3.11 leaves a
    cancelled stream's transport to the garbage collector (the handset would wait on it forever)."""
    # the loop is closing: a cancelled stream's protocol may trip over its own connection_lost
    loop.set_exception_handler(lambda _loop, _context: None)
    for obj in gc.get_objects():
        if not isinstance(obj, asyncio.BaseTransport) or getattr(obj, "_loop", None) is not loop or obj.is_closing():
            continue
        if isinstance(obj, asyncio.WriteTransport):
            obj.abort()
        else:
            obj.close()
    loop.run_until_complete(asyncio.sleep(0))  # abort closes the socket on the next loop step
