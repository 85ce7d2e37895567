"""`app_process / com.wetest.uia2.Main -p PORT`: the u2 server as a shell command.

uiautomator2 starts it as a shell stream that stays open: the server lives until the stream is
closed (the host ends it), the handset reboots, or a fault crashes it. While it runs, the
handset's device-local port PORT (what `adb forward` and `tcp:PORT` streams reach) leads to it,
and /proc/net/tcp6 lists it listening, owned by the shell user.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devicelab.virtual.ui.server import UiServer

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem
    from devicelab.virtual.handset import VirtualHandset
    from devicelab.virtual.shell.io import CommandContext

log = logging.getLogger(__name__)

MAIN_CLASS = "com.wetest.uia2.Main"
DEFAULT_PORT = 9008


@dataclass
class Running:
    """A live server: what stops it and what it registered."""

    server: UiServer
    port: int
    crashed: asyncio.Event = field(default_factory=asyncio.Event)


_RUNNING: weakref.WeakKeyDictionary[VirtualHandset, Running] = weakref.WeakKeyDictionary()


def running(handset: VirtualHandset) -> Running | None:
    return _RUNNING.get(handset)


def crash_server(handset: VirtualHandset) -> bool:
    """Fault hook: the server process dies (connections reset, the shell stream ends). False if
    none was running."""
    run = _RUNNING.get(handset)
    if run is None:
        return False
    run.crashed.set()
    return True


def _port(argv: list[str]) -> int | None:
    if "-p" not in argv:
        return DEFAULT_PORT
    i = argv.index("-p")
    value = argv[i + 1] if i + 1 < len(argv) else ""
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else None


async def uia2_main(ctx: CommandContext) -> int:
    """The command: serve until the stream closes, the handset reboots or the server crashes."""
    handset, system = ctx.handset, ctx.handset.system
    if system is None:
        await ctx.err("app_process: no runtime\n")
        return 1
    jars = [p for p in ctx.env.get("CLASSPATH", "").split(":") if p]
    if not any(system.fs.exists(jar) for jar in jars):
        await ctx.err(f'Exception in thread "main" java.lang.ClassNotFoundException: Didn\'t find class '
                      f'"{MAIN_CLASS}" on path: DexPathList[[{", ".join(f"zip file {j!r}" for j in jars)}]]\n')
        return 1
    port = _port(ctx.argv)
    if port is None:
        await ctx.err("Usage: com.wetest.uia2.Main [-p PORT]\n")
        return 2
    if port in handset.local_ports:
        await ctx.err(f"java.net.BindException: bind failed: EADDRINUSE (Address already in use) port {port}\n")
        return 1
    server = UiServer(handset)
    address = await server.start()
    run = _RUNNING[handset] = Running(server, port)
    handset.local_ports[port] = address
    entry = system.listen(port, uid=ctx.uid)
    system.logcat.write("UiAutomator2", f"server listening on port {port}", pid=4242)
    try:
        await _serve(ctx, system, run)
    finally:
        await server.close(abort=run.crashed.is_set())
        if handset.local_ports.get(port) == address:
            del handset.local_ports[port]
        if entry in system.sockets:
            system.sockets.remove(entry)
        if _RUNNING.get(handset) is run:
            del _RUNNING[handset]
    if run.crashed.is_set():
        system.logcat.write("AndroidRuntime", f"FATAL EXCEPTION: main Process: {MAIN_CLASS}", level="E", pid=4242)
        await ctx.err("java.lang.RuntimeException: uiautomator server crashed (injected fault)\n")
        return 1
    return 0


async def _serve(ctx: CommandContext, system: AndroidSystem, run: Running) -> None:
    handset = ctx.handset
    while not (ctx.io.closed.is_set() or run.crashed.is_set() or handset.system is not system):
        waits = [asyncio.ensure_future(e.wait()) for e in (ctx.io.closed, run.crashed, handset.state_changed)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
