"""The interpreter of the virtual `/system/bin/sh`: runs a parsed command line against the
handset, with pipes, redirections, `$?`, background jobs and the special builtins.

Everything is bounded: nesting depth, the number of commands one line may run, pipe buffers
and file sizes. Pipeline stages run one after another through memory buffers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from devicelab.virtual.fs import FsError
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.expand import ExpansionError, Scope, expand_string, expand_word
from devicelab.virtual.shell.fds import BufferSink, FdIO, NullSink, apply_redirect
from devicelab.virtual.shell.io import CommandContext, ShellIO
from devicelab.virtual.shell.syntax import (
    AndOr,
    Group,
    If,
    Node,
    Pipeline,
    Redirect,
    Script,
    ShellSyntaxError,
    Simple,
    parse,
)

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)

MAX_DEPTH = 16  # nested sh -c, su, $(...), ( ... )
MAX_COMMANDS = 100_000  # simple commands one command line may run


class ExitShell(Exception):
    """`exit N`: unwinds to the shell that runs the script."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class ShellLimit(Exception):
    """A bound was hit (too deep, too many commands)."""


class Budget:
    def __init__(self, limit: int = MAX_COMMANDS) -> None:
        self.left = limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ShellLimit(f"more than {MAX_COMMANDS} commands in one command line")


Builtin = Callable[["Shell", list[str], FdIO], Awaitable[int]]
BUILTINS: dict[str, Builtin] = {}


def builtin(name: str) -> Callable[[Builtin], Builtin]:
    def decorate(fn: Builtin) -> Builtin:
        BUILTINS[name] = fn
        return fn

    return decorate


class Shell:
    """One shell process: variables, working directory, `$?`, its user."""

    def __init__(
        self, handset: VirtualHandset, *, uid: int, name: str = "/system/bin/sh", env: dict[str, str] | None = None,
        cwd: str = "/", args: Sequence[str] = (), depth: int = 0, budget: Budget | None = None, pid: int = 0,
    ) -> None:
        if depth > MAX_DEPTH:
            raise ShellLimit("shells are nested too deeply")
        self.handset = handset
        self.uid = uid
        self.name = name
        self.vars: dict[str, str] = dict(env or {})
        self.exported: set[str] = set(self.vars)
        self.cwd = cwd
        self.args = [name, *args]
        self.depth = depth
        self.budget = budget or Budget()
        self.pid = pid
        self.status = 0
        self.last_bg = 0
        self.background: list[asyncio.Task[None]] = []
        self.io: FdIO | None = None
        self.substituted: int | None = None  # status of the last $(...) of the current command

    # -- running ------------------------------------------------------------------------
    async def run_text(self, text: str, io: ShellIO) -> int:
        """Parse and run a command line; returns its exit status."""
        fdio = FdIO.wrap(io)
        try:
            script = parse(text)
        except ShellSyntaxError as exc:
            await fdio.stderr(f"{self.name}: syntax error: {exc}\n".encode())
            return 1
        try:
            await self.run_list(script, fdio)
        except ExitShell as exc:
            self.status = exc.code & 0xFF
        except ShellLimit as exc:
            if self.depth:  # a bound ends the whole command line, not just a nested shell
                raise
            await fdio.stderr(f"{self.name}: {exc}\n".encode())
            self.status = 1
        finally:
            await self.join_background()
        return self.status

    async def run_list(self, script: Script, io: FdIO) -> int:
        for and_or, background in script.items:
            if background:
                self.background.append(asyncio.get_running_loop().create_task(self._in_background(and_or, io)))
                self.last_bg = self.pid + len(self.background)
                self.status = 0
            else:
                await self.run_and_or(and_or, io)
        return self.status

    async def _in_background(self, and_or: AndOr, io: FdIO) -> None:
        child = self.subshell()
        with contextlib.suppress(ExitShell, ShellLimit):
            await child.run_and_or(and_or, io)

    async def join_background(self) -> None:
        tasks, self.background = self.background, []
        if not tasks:
            return
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def run_and_or(self, and_or: AndOr, io: FdIO) -> int:
        status = await self.run_pipeline(and_or.first, io)
        for op, pipeline in and_or.rest:
            if (op == "&&") == (status == 0):
                status = await self.run_pipeline(pipeline, io)
        self.status = status
        return status

    async def run_pipeline(self, pipeline: Pipeline, io: FdIO) -> int:
        if len(pipeline.commands) == 1:
            status = await self.run_node(pipeline.commands[0], io)
        else:
            data: bytes | None = None
            status = 0
            for index, node in enumerate(pipeline.commands):
                last = index == len(pipeline.commands) - 1
                buffer = None if last else BufferSink()
                fds = dict(io.fds)
                if buffer is not None:
                    fds[1] = buffer
                stage = io.derive(stdin=data, fds=fds)
                try:
                    status = await self.run_node(node, stage)
                except ExitShell as exc:  # each stage is a subshell: exit leaves the stage only
                    status = exc.code & 0xFF
                data = bytes(buffer.data) if buffer is not None else None
        if pipeline.negate:
            status = 0 if status else 1
        self.status = status
        return status

    async def run_node(self, node: Node, io: FdIO) -> int:
        if isinstance(node, Simple):
            return await self.run_simple(node, io)
        if isinstance(node, If):
            return await self.run_if(node, io)
        return await self.run_group(node, io)

    async def run_if(self, node: If, io: FdIO) -> int:
        redirected = await self._redirected(node.redirects, io)
        if redirected is None:
            return 1
        for condition, body in node.branches:
            if await self.run_list(condition, redirected) == 0:
                return await self.run_list(body, redirected)
        if node.otherwise is not None:
            return await self.run_list(node.otherwise, redirected)
        self.status = 0
        return 0

    async def run_group(self, group: Group, io: FdIO) -> int:
        redirected = await self._redirected(group.redirects, io)
        if redirected is None:
            return 1
        if not group.subshell:
            return await self.run_list(group.body, redirected)
        child = self.subshell()
        try:
            await child.run_list(group.body, redirected)
        except ExitShell as exc:
            child.status = exc.code & 0xFF
        finally:
            await child.join_background()
        self.status = child.status
        return child.status

    async def run_simple(self, command: Simple, io: FdIO) -> int:
        self.budget.spend()
        self.io = io
        self.substituted = None
        try:
            argv: list[str] = []
            for word in command.words:
                argv += await expand_word(word, self.scope())
            assigns = []
            for assign in command.assigns:
                name, _, value = assign.partition("=")
                assigns.append((name, await expand_string(value, self.scope())))
        except ExpansionError as exc:
            await io.stderr(f"{self.name}: {exc}\n".encode())
            self.status = 1
            return 1
        redirected = await self._redirected(command.redirects, io)
        if redirected is None:
            self.status = 1
            return 1
        if not argv:
            for name, value in assigns:
                self.vars[name] = value
            # an assignment-only command ends with the status of its last $(...), else 0
            self.status = self.substituted if self.substituted is not None else 0
            return self.status
        if argv[0] in BUILTINS:
            status = await BUILTINS[argv[0]](self, argv, redirected)
        else:
            env = self.environment()
            env.update(assigns)
            status = await self.execute_argv(argv, redirected, env=env, uid=self.uid, cwd=self.cwd)
        self.status = status
        await asyncio.sleep(0)  # a long command line must not starve the event loop
        return status

    async def execute_argv(self, argv: Sequence[str], io: ShellIO, *, env: dict[str, str], uid: int, cwd: str) -> int:
        """Run one external (registered) command."""
        name = argv[0]
        spec = registry.lookup(name)
        if spec is None or (spec.needs_system and self.handset.system is None):
            return await self._not_found(name, io)
        ctx = CommandContext(list(argv), self.handset, io, root=uid == 0, uid=uid, env=env, cwd=cwd, runner=self)
        try:
            code = int(await spec.run(ctx) or 0)
        except (ExitShell, ShellLimit):
            raise
        except Exception as exc:  # a command's bug must not take the shell down
            log.exception("%s: command %r failed", self.handset.name, list(argv))
            await io.stderr(f"{posixpath.basename(name)}: internal error: {exc}\n".encode())
            code = 1
        return code & 0xFF

    async def _not_found(self, name: str, io: ShellIO) -> int:
        if "/" in name:
            path = posixpath.normpath(posixpath.join(self.cwd, name))
            if self.handset.fs.exists(path):
                await io.stderr(f"{self.name}: {name}: can't execute: Permission denied\n".encode())
                return 126
        await io.stderr(f"{self.name}: {name}: inaccessible or not found\n".encode())
        return 127

    # -- Runner (for sh -c, su, toybox, ...) ------------------------------------------------
    async def run_argv(
        self, ctx: CommandContext, argv: Sequence[str], *, uid: int | None = None, io: ShellIO | None = None,
    ) -> int:
        if not argv:
            return 0
        return await self.execute_argv(argv, FdIO.wrap(io or ctx.io), env=dict(ctx.env),
                                       uid=ctx.uid if uid is None else uid, cwd=ctx.cwd)

    async def run_script(
        self, ctx: CommandContext, text: str, *, uid: int | None = None, io: ShellIO | None = None,
        name: str = "sh", args: Sequence[str] = (),
    ) -> int:
        child = Shell(self.handset, uid=ctx.uid if uid is None else uid, name=name, env=ctx.env, cwd=ctx.cwd,
                      args=args, depth=self.depth + 1, budget=self.budget, pid=self.pid)
        return await child.run_text(text, io or ctx.io)

    # -- helpers ------------------------------------------------------------------------
    def subshell(self) -> Shell:
        child = Shell(self.handset, uid=self.uid, name=self.name, env=self.vars, cwd=self.cwd, args=self.args[1:],
                      depth=self.depth + 1, budget=self.budget, pid=self.pid)
        child.exported = set(self.exported)
        child.status = self.status
        return child

    def environment(self) -> dict[str, str]:
        return {k: v for k, v in self.vars.items() if k in self.exported}

    def lookup(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "$":
            return str(self.pid)
        if name == "!":
            return str(self.last_bg) if self.last_bg else ""
        if name == "#":
            return str(len(self.args) - 1)
        if name in ("@", "*"):
            return " ".join(self.args[1:])
        if name == "-":
            return ""
        if name.isdecimal():
            index = int(name)
            return self.args[index] if index < len(self.args) else None
        return self.vars.get(name)

    def scope(self) -> Scope:
        return Scope(self.lookup, self.substitute, self._listdir, self._exists, self.cwd, self.vars.get("HOME", "/"))

    def _listdir(self, path: str) -> list[str] | None:
        try:
            access.check_list(path, self.uid)
            return [name for name, _ in self.handset.fs.listdir(path)]
        except FsError:
            return None

    def _exists(self, path: str) -> bool:
        return self.handset.fs.exists(path)

    async def substitute(self, text: str) -> str:
        """`$(...)`: run in a subshell, capture stdout; `$?` becomes its status."""
        child = self.subshell()
        buffer = BufferSink()
        io = self.io or FdIO(b"", {}, asyncio.Event())
        out = io.derive(fds={1: buffer, 2: io.fds.get(2, NullSink())})
        self.status = self.substituted = await child.run_text(text, out)
        return buffer.data.decode("utf-8", errors="replace")

    async def _redirected(self, redirects: tuple[Redirect, ...], io: FdIO) -> FdIO | None:
        if not redirects:
            return io
        fds = dict(io.fds)
        stdin: bytes | None = None
        for redirect in redirects:
            try:
                target = await expand_string(redirect.target, self.scope())
                stdin = apply_redirect(self.handset, self.cwd, self.uid, redirect.op, redirect.fd, target, fds, stdin)
            except (FsError, ExpansionError, ValueError) as exc:
                await io.stderr(f"{self.name}: {exc}\n".encode())
                return None
        return io.derive(stdin=stdin, fds=fds)
