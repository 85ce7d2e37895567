"""The contract between a shell command of the virtual handset and whoever runs it (the adbd
shell and exec services, or a test).

A command is an async callable `(ctx) -> exit code`. It writes through `ctx.io` and may run as
long as it likes (e.g. `app_process` serving uiautomator, `logcat` following) until
`ctx.io.closed` is set by the host closing the stream.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem
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
    """Collects output in memory (tests, pipelines, `$(...)`). With `limit`, output beyond
    that many bytes is dropped (a bounded pipe)."""

    def __init__(self, stdin: bytes = b"", *, limit: int | None = None) -> None:
        super().__init__(stdin)
        self.out = bytearray()
        self.err = bytearray()
        self.limit = limit

    async def stdout(self, data: bytes) -> None:
        self.out += data if self.limit is None else data[: max(0, self.limit - len(self.out))]

    async def stderr(self, data: bytes) -> None:
        self.err += data if self.limit is None else data[: max(0, self.limit - len(self.err))]


@dataclass(frozen=True)
class ShellResult:
    stdout: bytes
    stderr: bytes = b""
    exit_code: int = 0


class Runner(Protocol):
    """The shell running a command, for commands that run others (`sh -c`, `su`, `toybox`)."""

    async def run_argv(
        self, ctx: CommandContext, argv: Sequence[str], *, uid: int | None = None, io: ShellIO | None = None,
    ) -> int: ...

    async def run_script(
        self, ctx: CommandContext, text: str, *, uid: int | None = None, io: ShellIO | None = None,
        name: str = "sh", args: Sequence[str] = (),
    ) -> int: ...


@dataclass
class CommandContext:
    """What a command sees: its argv, its environment, the handset, and its IO."""

    argv: list[str]
    handset: VirtualHandset
    io: ShellIO
    root: bool = False
    uid: int = 2000
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "/"
    runner: Runner | None = None

    async def out(self, text: str | bytes) -> None:
        await self.io.stdout(text.encode() if isinstance(text, str) else text)

    async def err(self, text: str | bytes) -> None:
        await self.io.stderr(text.encode() if isinstance(text, str) else text)

    @property
    def system(self) -> AndroidSystem:
        """The running system (commands registered with needs_system=True only run when there is one)."""
        system = self.handset.system
        if system is None:
            raise RuntimeError("the system is not running")
        return system

    @property
    def name(self) -> str:
        return posixpath.basename(self.argv[0]) if self.argv else ""

    def path(self, path: str) -> str:
        """A path argument made absolute against the working directory."""
        return "/" + posixpath.normpath(posixpath.join(self.cwd, path)).lstrip("/") if path else self.cwd

    async def fail(self, message: str, code: int = 1) -> int:
        """Print `name: message` on stderr and return `code`."""
        await self.err(f"{self.name}: {message}\n")
        return code


Command = Callable[[CommandContext], Awaitable[int]]
