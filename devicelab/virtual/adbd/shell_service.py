"""The `shell:`, `shell,v2,...:` and `exec:` services: a command of the virtual shell wired to
an adb stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from devicelab.virtual import shell
from devicelab.virtual.adbd import shellv2
from devicelab.virtual.adbd.stream import AdbStream, StreamClosed
from devicelab.virtual.shell.io import ShellIO

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)

#: How long a v2 command waits for the host's close-stdin (adb sends it at once when its stdin
#: is empty); stdin that keeps flowing extends the wait up to STDIN_MAX_WAIT.
STDIN_SETTLE = 0.05
STDIN_MAX_WAIT = 2.0
#: After the host closes the stream, a command gets this long to notice `io.closed` and end.
CLOSE_GRACE = 0.25


class StreamShellIO(ShellIO):
    """ShellIO over an adb stream: v2 packets or raw bytes out, stdin in, `closed` when the host
    closes the stream."""

    def __init__(self, stream: AdbStream, *, v2: bool, pty: bool) -> None:
        super().__init__(b"")
        self.stream = stream
        self.v2 = v2
        self.pty = pty
        self.stdin_closed = asyncio.Event()
        self.window_size = b""
        self._stdin_activity = asyncio.Event()
        self._interactive = False
        self._typed = bytearray()

    async def stdout(self, data: bytes) -> None:
        await self._emit(shellv2.ID_STDOUT, data)

    async def stderr(self, data: bytes) -> None:
        # A pty has one output; v1 has no stderr channel: both merge into stdout.
        await self._emit(shellv2.ID_STDERR if self.v2 and not self.pty else shellv2.ID_STDOUT, data)

    async def _emit(self, packet_id: int, data: bytes) -> None:
        if not data or self.closed.is_set():
            return
        if self.pty:
            data = data.replace(b"\n", b"\r\n")  # the tty's onlcr
        try:
            await self.stream.write(shellv2.pack(packet_id, data) if self.v2 else data)
        except StreamClosed:
            self.closed.set()

    async def exit_code(self, code: int) -> None:
        if self.v2 and not self.closed.is_set():
            with contextlib.suppress(StreamClosed):
                await self.stream.write(shellv2.pack_exit(code))

    # -- input ---------------------------------------------------------------------------
    async def pump_input(self) -> None:
        """Move host data into stdin until the host closes the stream."""
        parser = shellv2.PacketParser()
        try:
            while data := await self.stream.read_some():
                if not self.v2:
                    self._stdin(data)
                    continue
                for packet_id, payload in parser.feed(data):
                    if packet_id == shellv2.ID_STDIN:
                        self._stdin(payload)
                    elif packet_id == shellv2.ID_CLOSE_STDIN:
                        self.stdin_closed.set()
                        self._stdin_activity.set()
                    elif packet_id == shellv2.ID_WINDOW_SIZE:
                        self.window_size = payload
        except shellv2.ShellProtocolError as exc:
            log.warning("%s: %s", self.stream.service, exc)
        finally:
            self.stdin_closed.set()
            self.closed.set()
            self._stdin_activity.set()

    def _stdin(self, data: bytes) -> None:
        if self._interactive:
            self._typed += data
        else:
            self.stdin += data
        self._stdin_activity.set()

    async def settle_stdin(self) -> None:
        """Give stdin a moment to arrive before a command starts (see STDIN_SETTLE)."""
        start = time.monotonic()
        deadline = start + STDIN_SETTLE
        while not self.stdin_closed.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._stdin_activity.clear()
            try:
                await asyncio.wait_for(self._stdin_activity.wait(), remaining)
            except TimeoutError:
                return
            deadline = min(time.monotonic() + STDIN_SETTLE, start + STDIN_MAX_WAIT)

    async def read_typed(self) -> bytes:
        """Interactive mode: the next keystrokes; b'' when the host is gone."""
        self._interactive = True
        while not self._typed:
            if self.stdin_closed.is_set():
                return b""
            self._stdin_activity.clear()
            await self._stdin_activity.wait()
        data = bytes(self._typed)
        self._typed.clear()
        return data


def is_root(handset: VirtualHandset) -> bool:
    return handset.system is not None and handset.system.rooted


async def serve_command(handset: VirtualHandset, stream: AdbStream, command: str, *, v2: bool, pty: bool) -> None:
    """Run one command (or the interactive shell for an empty one) on the stream."""
    io = StreamShellIO(stream, v2=v2, pty=pty)
    pump = asyncio.create_task(io.pump_input())
    try:
        code: int | None
        if not command.strip():
            code = await _interactive(handset, io)
        else:
            if v2:
                await io.settle_stdin()
            code = await _run_until_closed(handset, command, io)
        if code is not None:
            await io.exit_code(code)
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump


async def _run_until_closed(handset: VirtualHandset, command: str, io: StreamShellIO) -> int | None:
    """The command's exit code, or None when the host closed the stream and it had to be stopped."""
    task = asyncio.create_task(shell.execute(handset, command, io, root=is_root(handset)))
    closed = asyncio.create_task(io.closed.wait())
    try:
        await asyncio.wait({task, closed}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait({task}, timeout=CLOSE_GRACE)
        if not task.done():
            task.cancel()  # as adbd hangs up on a shell whose host went away
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
        return task.result()
    finally:
        closed.cancel()
        if not task.done():
            task.cancel()


async def _interactive(handset: VirtualHandset, io: StreamShellIO) -> int:
    """A minimal interactive shell: a prompt, line editing, one command per line."""
    root = is_root(handset)
    device = handset.system.props.get("ro.product.device", "android") if handset.system else "android"
    prompt = f"{device}:/ {'#' if root else '$'} ".encode()
    line = bytearray()
    code = 0
    await io.stdout(prompt)
    while not io.closed.is_set():
        keys = await io.read_typed()
        if not keys:
            return code
        for key in keys:
            if key in (0x0D, 0x0A):
                await io.stdout(b"\n")
                text = line.decode(errors="replace").strip()
                line.clear()
                if text == "exit" or text.startswith("exit "):
                    return _exit_status(text, code)
                if text:
                    code = await _run_until_closed(handset, text, io) or 0
                await io.stdout(prompt)
            elif key == 0x04 and not line:  # ^D on an empty line
                return code
            elif key == 0x03:  # ^C
                line.clear()
                await io.stdout(b"^C\n" + prompt)
            elif key in (0x08, 0x7F):
                if line:
                    line.pop()
                    await io.stdout(b"\b \b")
            elif key >= 0x20:
                line.append(key)
                if io.pty:
                    await io.stdout(bytes([key]))
    return code


def _exit_status(text: str, last: int) -> int:
    parts = text.split()
    if len(parts) > 1 and parts[1].isdigit():
        return int(parts[1]) & 0xFF
    return last
