"""The contract between a shell command of the virtual handset and whoever runs it (the adbd
shell and exec services, or a test).

A command is an async callable `(ctx) -> exit code`. It writes through `ctx.io` and may run as
long as it likes (e.g. `app_process` serving uiautomator, `logcat` following) until
`ctx.io.closed` is set by the host closing the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset


class ShellIO:
    """Where a command's output goes. Subclasses forward to an adb stream."""

    def __init__(self, stdin: bytes = b"") -> None:
        self.stdin = stdin
        self.closed = asyncio.Event()

    async def stdout(self, data: bytes) -> None:
        raise NotImplementedError

    async def stderr(self, data: bytes) -> None:
        raise NotImplementedError


class BufferIO(ShellIO):
    """Collects output in memory (tests, pipelines, `$(...)`)."""

    def __init__(self, stdin: bytes = b"") -> None:
        super().__init__(stdin)
        self.out = bytearray()
        self.err = bytearray()

    async def stdout(self, data: bytes) -> None:
        self.out += data

    async def stderr(self, data: bytes) -> None:
        self.err += data


@dataclass(frozen=True)
class ShellResult:
    stdout: bytes
    stderr: bytes = b""
    exit_code: int = 0


@dataclass
class CommandContext:
    """What a command sees: its argv, its environment, the handset, and its IO."""

    argv: list[str]
    handset: VirtualHandset
    io: ShellIO
    root: bool = False
    uid: int = 2000
    env: dict[str, str] = field(default_factory=dict)

    async def out(self, text: str | bytes) -> None:
        await self.io.stdout(text.encode() if isinstance(text, str) else text)

    async def err(self, text: str | bytes) -> None:
        await self.io.stderr(text.encode() if isinstance(text, str) else text)


Command = Callable[[CommandContext], Awaitable[int]]
