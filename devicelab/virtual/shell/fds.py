"""File descriptors of a running command: where fd 1 and fd 2 go (the caller's stream, a pipe
buffer, a file, /dev/null) and where stdin comes from."""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from devicelab.virtual.fs import MESSAGES, FsError
from devicelab.virtual.shell import access
from devicelab.virtual.shell.io import ShellIO

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

PIPE_LIMIT = 64 << 20  # bytes a pipe or $(...) holds
FILE_LIMIT = 256 << 20  # bytes a redirection may write


class Sink(Protocol):
    async def write(self, data: bytes) -> None: ...


class StreamSink:
    def __init__(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        self._write = write

    async def write(self, data: bytes) -> None:
        await self._write(data)


class NullSink:
    async def write(self, data: bytes) -> None:
        return None


class BufferSink:
    def __init__(self, limit: int = PIPE_LIMIT) -> None:
        self.data = bytearray()
        self.limit = limit

    async def write(self, data: bytes) -> None:
        self.data += data[: max(0, self.limit - len(self.data))]


class FileSink:
    def __init__(self, handset: VirtualHandset, path: str) -> None:
        self.handset = handset
        self.path = path
        self.written = 0

    async def write(self, data: bytes) -> None:
        data = data[: max(0, FILE_LIMIT - self.written)]
        if data:
            self.written += len(data)
            self.handset.fs.append(self.path, data)


class FdIO(ShellIO):
    """A command's file descriptors: 1 and 2 go to sinks; stdin is bytes or another IO's stdin
    (read late, so stdin that adbd receives after the command started is seen)."""

    def __init__(self, stdin: bytes | ShellIO, fds: dict[int, Sink], closed: asyncio.Event) -> None:
        self._source: bytes | ShellIO = b""
        super().__init__(b"")
        self._source = stdin
        self.fds = fds
        self.closed = closed

    @property
    def stdin(self) -> bytes:
        return self._source.stdin if isinstance(self._source, ShellIO) else self._source

    @stdin.setter
    def stdin(self, value: bytes) -> None:
        self._source = value

    @classmethod
    def wrap(cls, io: ShellIO) -> FdIO:
        if isinstance(io, FdIO):
            return io
        return cls(io, {1: StreamSink(io.stdout), 2: StreamSink(io.stderr)}, io.closed)

    def derive(self, *, stdin: bytes | None = None, fds: dict[int, Sink] | None = None) -> FdIO:
        return FdIO(self._source if stdin is None else stdin, dict(self.fds) if fds is None else fds, self.closed)

    async def stdout(self, data: bytes) -> None:
        if data and (sink := self.fds.get(1)) is not None:
            await sink.write(data)

    async def stderr(self, data: bytes) -> None:
        if data and (sink := self.fds.get(2)) is not None:
            await sink.write(data)


# -- redirections --------------------------------------------------------------------------------
def read_input(handset: VirtualHandset, cwd: str, uid: int, target: str) -> bytes:
    """`< target`: the file's bytes, or ValueError with mksh's message."""
    if target in ("/dev/null", "/dev/zero"):
        return b""
    path = posixpath.normpath(posixpath.join(cwd, target))
    try:
        access.check_read(path, uid)
        return handset.fs.read(path)
    except FsError as exc:
        raise ValueError(f"{target}: {MESSAGES.get(exc.code, exc.code)}") from None


def open_output(handset: VirtualHandset, cwd: str, uid: int, target: str, fds: dict[int, Sink], *,
                append: bool) -> Sink:
    """`> target` / `>> target`: a sink, the file created (owned by `uid`) or truncated first."""
    if target in ("/dev/null", "/dev/zero"):
        return NullSink()
    if target in ("/dev/stdout", "/dev/tty", "/proc/self/fd/1"):
        return fds.get(1) or NullSink()
    if target in ("/dev/stderr", "/proc/self/fd/2"):
        return fds.get(2) or NullSink()
    path = posixpath.normpath(posixpath.join(cwd, target))
    fs = handset.fs
    try:
        access.check_write(path, uid)
        if not append or not fs.exists(path):
            created = not fs.exists(path)
            fs.write(path, b"")
            if created:  # a new file belongs to the shell's user
                node = fs.stat(path)
                node.uid = node.gid = uid
        elif fs.stat(path).is_dir:
            raise FsError("EISDIR", path)
    except FsError as exc:
        raise ValueError(f"can't create {target}: {MESSAGES.get(exc.code, exc.code)}") from None
    return FileSink(handset, path)


def apply_redirect(handset: VirtualHandset, cwd: str, uid: int, op: str, fd: int, target: str,
                   fds: dict[int, Sink], stdin: bytes | None) -> bytes | None:
    """Apply one redirection to `fds` (in place); returns the command's stdin."""
    if op in (">&", "<&") and (target.isdecimal() or target == "-"):
        if target == "-":
            fds.pop(fd, None)
        elif op == ">&":
            fds[fd] = fds.get(int(target), NullSink())
        return stdin
    if op in ("<", "<>"):
        return read_input(handset, cwd, uid, target) if fd == 0 else stdin
    sink = open_output(handset, cwd, uid, target, fds, append=op.endswith(">>"))
    if op in ("&>", "&>>", ">&"):
        fds[1] = fds[2] = sink
    else:
        fds[fd] = sink
    return stdin
