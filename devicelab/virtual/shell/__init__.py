"""The virtual handset's shell: `/system/bin/sh` as adbd runs it.

`execute` is the one entry point adbd's `shell:`, `shell,v2,...:` and `exec:` services call.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from devicelab.virtual.shell.io import BufferIO, ShellIO, ShellResult

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

__all__ = ["BufferIO", "ShellIO", "ShellResult", "execute", "run"]


async def execute(handset: VirtualHandset, command: str, io: ShellIO, *, root: bool = False) -> int:
    """Run one shell command line on the handset; returns its exit code.

    (Placeholder until the interpreter lands: only `echo` works.)
    """
    argv = shlex.split(command)
    if argv and argv[0] == "echo":
        await io.stdout((" ".join(argv[1:]) + "\n").encode())
        return 0
    name = argv[0] if argv else ""
    await io.stderr(f"/system/bin/sh: {name}: inaccessible or not found\n".encode())
    return 127


async def run(handset: VirtualHandset, command: str, *, root: bool = False, stdin: bytes = b"") -> ShellResult:
    """Run a command and collect its output (tests, and the lab's own use)."""
    io = BufferIO(stdin)
    code = await execute(handset, command, io, root=root)
    return ShellResult(bytes(io.out), bytes(io.err), code)
