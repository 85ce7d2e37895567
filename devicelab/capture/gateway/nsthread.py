"""A worker thread that lives in one network namespace.

setns moves only the calling thread, and sockets stay in the namespace they were made in: a
worker enters the namespace once and makes the sockets, netlink handles and nft contexts the
harness then uses from anywhere (its asyncio loop included).
"""

from __future__ import annotations

import ctypes
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from devicelab.errors import CaptureError

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
CALL_TIMEOUT = 30.0

_libc = ctypes.CDLL(None, use_errno=True)


def setns(path: str) -> None:
    """Move the calling thread into the network namespace at `path`."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise CaptureError(f"cannot enter network namespace {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


class NsThread:
    """`call(fn, *args)` runs fn in the namespace `name` ("": the process's own) and returns its
    result (bounded)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]] | None] = (
            queue.SimpleQueue())
        self._ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, name=f"netns-{name or 'host'}", daemon=True)
        self._thread.start()
        self._ready.result(CALL_TIMEOUT)

    def _run(self) -> None:
        try:
            if self.name:  # "": the process's own namespace (a lab's interface on the host itself)
                setns(f"{NETNS_DIR}/{self.name}")
        except CaptureError as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        while (job := self._jobs.get()) is not None:
            fn, args, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # handed back to the caller
                    future.set_exception(exc)

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = CALL_TIMEOUT) -> T:
        future: Future[T] = Future()
        self._jobs.put((fn, args, future))
        return future.result(timeout)

    def spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        """A new thread started from this one: it inherits the namespace."""
        def start() -> threading.Thread:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            return thread

        return self.call(start)

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(CALL_TIMEOUT)
