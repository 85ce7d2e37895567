"""Helpers for the UI tests: a booted virtual handset on a private event loop, the u2 server
started as `app_process` would start it, and an adb device stand-in so the real uiautomator2
client talks to that server without an adb server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import adbutils

from devicelab.model.builds import load_build
from devicelab.model.sims import load_sim
from devicelab.virtual.handset import VirtualHandset
from devicelab.virtual.identity import HardwareIdentity
from devicelab.virtual.ui.app_process import MAIN_CLASS, uia2_main

if TYPE_CHECKING:
    from devicelab.virtual.shell.io import BufferIO

T = TypeVar("T")
JAR = "/data/local/tmp/u2.jar"


async def boot(build: str = "nokia7plus-00WW_3_22C", sim: str | None = None, name: str = "ui") -> VirtualHandset:
    """A handset powered on to Android (boot completes at once), with u2's jar pushed."""
    handset = VirtualHandset(name, HardwareIdentity.generate(name), sim=load_sim(sim) if sim else None,
                             boot_seconds=0)
    handset.install(load_build(build))
    await handset.power_on()
    assert handset.system is not None
    handset.system.fs.write(JAR, b"PK\x03\x04 u2 jar", make_parents=True)
    return handset


async def cancel_the_rest() -> None:
    """End every other task on this loop, as asyncio.run does before it closes a loop: a task left
    pending keeps its sockets open past the test (a ResourceWarning in whichever test runs next)."""
    rest = asyncio.all_tasks() - {asyncio.current_task()}
    for task in rest:
        task.cancel()
    if rest:
        await asyncio.wait(rest, timeout=5.0)


class LoopThread:
    """An event loop in a daemon thread, as the virtual lab runs one."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, work: Awaitable[T] | Callable[[], T], timeout: float = 20.0) -> T:
        if asyncio.iscoroutine(work):
            future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(work, self.loop)
        else:
            assert callable(work)

            async def run() -> T:
                return work()

            future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.call(cancel_the_rest(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Uia2Process:
    """`app_process / com.wetest.uia2.Main -p PORT` running on the handset."""

    def __init__(self, lab: LoopThread, handset: VirtualHandset, port: int = 9008) -> None:
        self.lab, self.handset, self.port = lab, handset, port
        self.io: BufferIO | None = None
        self.task: asyncio.Task[int] | None = None

    def start(self, env: dict[str, str] | None = None) -> Uia2Process:
        from devicelab.virtual.shell.io import BufferIO, CommandContext

        async def start() -> None:
            self.io = BufferIO()
            ctx = CommandContext(argv=[MAIN_CLASS, "-p", str(self.port)], handset=self.handset, io=self.io,
                                 env={"CLASSPATH": JAR} if env is None else env)
            self.task = asyncio.ensure_future(uia2_main(ctx))
            for _ in range(100):  # until it listens, or ends (bad start)
                if self.port in self.handset.local_ports or self.task.done():
                    return
                await asyncio.sleep(0.01)

        self.lab.call(start())
        return self

    @property
    def url(self) -> str:
        host, port = self.handset.local_ports[self.port]
        return f"http://{host}:{port}"

    def wait(self, timeout: float = 10.0) -> int:
        """The exit code, once the command ends."""
        assert self.task is not None
        task = self.task

        async def finish() -> int:
            return await asyncio.wait_for(asyncio.shield(task), timeout)

        return self.lab.call(finish(), timeout + 1)

    def stop(self) -> int:
        """Close the shell stream, as the host does."""
        assert self.io is not None
        io = self.io
        self.lab.call(lambda: io.closed.set())
        return self.wait()

    @property
    def stderr(self) -> str:
        return bytes(self.io.err).decode() if self.io is not None else ""


def u2_jar_md5() -> str:
    from uiautomator2.utils import with_package_resource

    with with_package_resource("assets/u2.jar") as jar, open(jar, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


class FakeAdbDevice(adbutils.AdbDevice):  # type: ignore[misc]
    """What uiautomator2 needs of an adb device, without adb: `tcp:PORT` streams go straight to
    the handset's device-local ports, and the jar check finds u2.jar in place."""

    def __init__(self, handset: VirtualHandset) -> None:  # no adb client behind it
        self._serial = handset.hardware.serialno
        self._handset = handset
        self._md5 = u2_jar_md5()

    def create_connection(self, network: Any, address: Any) -> socket.socket:
        host, port = self._handset.local_ports[int(address)]
        sock = socket.create_connection((host, port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def shell(self, cmdargs: Any, stream: bool = False, timeout: float | None = None, **kwargs: Any) -> str:
        command = cmdargs if isinstance(cmdargs, str) else " ".join(cmdargs)
        if "md5" in command:
            return f"{self._md5}  {JAR}"
        raise AssertionError(f"unexpected shell command without adb: {command}")

    def window_size(self, landscape: bool | None = None) -> tuple[int, int]:
        return 1080, 2160
