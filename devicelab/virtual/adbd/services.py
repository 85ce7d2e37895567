"""Which service an OPEN names, and the small ones: reboot, root/unroot, tcp forwarding, reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from typing import TYPE_CHECKING, Protocol

from devicelab.virtual.adbd.shell_service import serve_command
from devicelab.virtual.adbd.shellv2 import parse_shell_service
from devicelab.virtual.adbd.stream import AdbStream, Handler, StreamClosed
from devicelab.virtual.adbd.sync import serve_sync

if TYPE_CHECKING:
    from devicelab.virtual.handset import RebootTarget, VirtualHandset

log = logging.getLogger(__name__)

REBOOT_TARGETS: dict[str, RebootTarget] = {"": "system", "bootloader": "bootloader", "recovery": "recovery"}
CONNECT_TIMEOUT = 5.0


class Restartable(Protocol):
    """The daemon, as the root/unroot services see it."""

    def restart_soon(self) -> None: ...


async def open_service(handset: VirtualHandset, daemon: Restartable, name: str) -> Handler | None:
    """The handler for service `name`, or None to refuse it (CLSE)."""
    if handset.state == "sideload":  # minadbd: the package transfer and nothing else
        if name.startswith("sideload-host:") and not handset.recovery.busy:
            return partial(_sideload, handset, name[len("sideload-host:") :])
        return None
    if name.startswith("shell"):
        rest = name[len("shell") :]
        if not rest.startswith((":", ",")):
            return None
        v2, kind, _env, command = parse_shell_service(rest.lstrip(","))
        return partial(_shell, handset, command, v2, kind == "pty")
    if name.startswith("exec:"):
        command = name[len("exec:") :]
        return partial(_shell, handset, command, False, False) if command.strip() else None
    if name == "sync:":
        return partial(serve_sync, handset)
    if name in ("reboot:sideload", "reboot:sideload-auto-reboot"):
        return partial(_reboot_sideload, handset, name.endswith("-auto-reboot"))
    if name.startswith("reboot:"):
        target = REBOOT_TARGETS.get(name[len("reboot:") :])
        return None if target is None else partial(_reboot, handset, target)
    if name in ("root:", "unroot:"):
        return partial(_root, handset, daemon, name == "root:")
    if name.startswith("tcp:"):
        return await _open_tcp(handset, name[len("tcp:") :])
    if name.startswith("reverse:"):
        return partial(_reverse, handset, name[len("reverse:") :])
    return None


async def _reverse(handset: VirtualHandset, request: str, stream: AdbStream) -> None:
    from devicelab.virtual.adbd.connection import AdbConnection

    connection = stream.sink
    assert isinstance(connection, AdbConnection)  # every stream of adbd is one of a connection
    await handset.reverse.serve(request, stream, connection)


async def _shell(handset: VirtualHandset, command: str, v2: bool, pty: bool, stream: AdbStream) -> None:
    await serve_command(handset, stream, command, v2=v2, pty=pty)


async def _reboot(handset: VirtualHandset, target: RebootTarget, stream: AdbStream) -> None:
    # The stream was OKAYed; the reboot drops the link (adb exits 0 when it sees that).
    await stream.wait_sent()
    handset.reboot(target)


async def _reboot_sideload(handset: VirtualHandset, auto_reboot: bool, stream: AdbStream) -> None:
    # adbd writes the bootloader message itself, which needs root (recovery's adbd is root)
    if handset.system is not None and not handset.system.rooted:
        with contextlib.suppress(StreamClosed):
            await stream.write(b"'adb reboot sideload' requires root. Try 'adb root' first.\n")
        return
    handset.recovery.request("--sideload_auto_reboot" if auto_reboot else "--sideload")
    await stream.wait_sent()
    handset.reboot("recovery")


async def _sideload(handset: VirtualHandset, spec: str, stream: AdbStream) -> None:
    await handset.recovery.serve_sideload(spec, stream)


async def _root(handset: VirtualHandset, daemon: Restartable, want_root: bool, stream: AdbStream) -> None:
    system = handset.system
    if system is None:
        message = "adbd cannot change its user while the system is not running\n"
    elif system.build.build_type == "user":
        message = "adbd cannot run as root in production builds\n"
    elif system.rooted == want_root:
        message = "adbd is already running as root\n" if want_root else "adbd not running as root\n"
    else:
        system.rooted = want_root
        system.props["service.adb.root"] = "1" if want_root else "0"
        with contextlib.suppress(StreamClosed):
            await stream.write(b"restarting adbd as root\n" if want_root else b"restarting adbd as non root\n")
            await stream.wait_sent()
        stream.close()  # adb reads the message to EOF, then waits for the transport to go and come back
        daemon.restart_soon()
        return
    with contextlib.suppress(StreamClosed):
        await stream.write(message.encode())


async def _open_tcp(handset: VirtualHandset, spec: str) -> Handler | None:
    """Connect to the device-local service on that port first; refuse when nothing listens."""
    try:
        port = int(spec)
    except ValueError:
        return None
    target = handset.local_ports.get(port)
    if target is None:
        return None
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):  # not wait_for: it can drop a finished connection
            reader, writer = await asyncio.open_connection(*target)
    except (OSError, TimeoutError) as exc:
        log.info("%s: tcp:%d refused: %s", handset.name, port, exc)
        return None
    return partial(pipe, reader, writer)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: AdbStream) -> None:
    """Copy both ways until either side closes; then close the other."""

    async def upstream() -> None:
        while data := await stream.read_some():
            writer.write(data)
            await writer.drain()

    async def downstream() -> None:
        while data := await reader.read(256 * 1024):
            await stream.write(data)

    up = asyncio.create_task(upstream())
    down = asyncio.create_task(downstream())
    try:
        # adb streams cannot half-close: when either side ends, both do.
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (up, down):
            task.cancel()
        for task in (up, down):
            with contextlib.suppress(asyncio.CancelledError, StreamClosed, OSError):
                await task
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 2.0)
