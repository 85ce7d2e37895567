"""The shell's special builtins: the commands that change the shell itself (`exit`, `cd`,
`export`, `eval`, `exec`, `.`, `read`, `wait`, ...)."""

from __future__ import annotations

import posixpath

from devicelab.virtual.fs import FsError
from devicelab.virtual.shell import access
from devicelab.virtual.shell.fds import FdIO
from devicelab.virtual.shell.interp import ExitShell, LoopControl, Shell, builtin
from devicelab.virtual.shell.syntax import ShellSyntaxError, is_assignment, parse


async def _error(shell: Shell, io: FdIO, message: str, code: int = 1) -> int:
    await io.stderr(f"{shell.name}: {message}\n".encode())
    return code


@builtin("exit")
async def _exit(shell: Shell, argv: list[str], io: FdIO) -> int:
    if len(argv) > 1:
        try:
            raise ExitShell(int(argv[1]) & 0xFF)
        except ValueError:
            await _error(shell, io, f"exit: {argv[1]}: bad number")
            raise ExitShell(1) from None
    raise ExitShell(shell.status)


@builtin("break")
@builtin("continue")
async def _loop_control(shell: Shell, argv: list[str], io: FdIO) -> int:
    levels = 1
    if len(argv) > 1:
        if not argv[1].isdecimal() or int(argv[1]) < 1:
            return await _error(shell, io, f"{argv[0]}: {argv[1]}: bad number")
        levels = int(argv[1])
    if not shell.loops:
        return await _error(shell, io, f"{argv[0]}: can't {argv[0]}")
    raise LoopControl(min(levels, shell.loops), again=argv[0] == "continue")


@builtin("cd")
async def _cd(shell: Shell, argv: list[str], io: FdIO) -> int:
    target = argv[1] if len(argv) > 1 else shell.vars.get("HOME", "/")
    if target == "-":
        target = shell.vars.get("OLDPWD", shell.cwd)
    path = "/" + posixpath.normpath(posixpath.join(shell.cwd, target)).lstrip("/")
    try:
        if not shell.handset.fs.stat(path).is_dir:
            raise FsError("ENOTDIR", path)
    except FsError as exc:
        return await _error(shell, io, f"cd: {target}: {exc.args[0].split(': ', 1)[-1]}", 2)
    shell.vars["OLDPWD"], shell.cwd = shell.cwd, path
    shell.vars["PWD"] = path
    return 0


@builtin("export")
async def _export(shell: Shell, argv: list[str], io: FdIO) -> int:
    names = [a for a in argv[1:] if not a.startswith("-")]
    if not names:
        for key in sorted(shell.exported):
            await io.stdout(f"export {key}={shell.vars.get(key, '')}\n".encode())
        return 0
    for arg in names:
        name, eq, value = arg.partition("=")
        if eq:
            if not is_assignment(arg):
                return await _error(shell, io, f"export: {name}: is not an identifier")
            shell.vars[name] = value
        shell.exported.add(name)
    return 0


@builtin("readonly")
async def _readonly(shell: Shell, argv: list[str], io: FdIO) -> int:
    for arg in argv[1:]:
        name, eq, value = arg.partition("=")
        if eq:
            shell.vars[name] = value
    return 0


@builtin("unset")
async def _unset(shell: Shell, argv: list[str], io: FdIO) -> int:
    for name in argv[1:]:
        if not name.startswith("-"):
            shell.vars.pop(name, None)
            shell.exported.discard(name)
    return 0


@builtin("set")
async def _set(shell: Shell, argv: list[str], io: FdIO) -> int:
    if len(argv) == 1:
        for key in sorted(shell.vars):
            await io.stdout(f"{key}={shell.vars[key]}\n".encode())
        return 0
    if argv[1] == "--":
        shell.args = [shell.args[0], *argv[2:]]
    return 0  # -e, -x and friends are accepted and ignored


@builtin("shift")
async def _shift(shell: Shell, argv: list[str], io: FdIO) -> int:
    count = int(argv[1]) if len(argv) > 1 and argv[1].isdecimal() else 1
    if count > len(shell.args) - 1:
        return await _error(shell, io, f"shift: {count}: bad number")
    shell.args = [shell.args[0], *shell.args[1 + count :]]
    return 0


async def _run_text_here(shell: Shell, text: str, io: FdIO) -> int:
    """Run text in this shell (eval, `.`): variables and cwd changes stay."""
    try:
        script = parse(text)
    except ShellSyntaxError as exc:
        return await _error(shell, io, f"syntax error: {exc}")
    shell.depth += 1
    try:
        if shell.depth > 16:
            return await _error(shell, io, "eval is nested too deeply")
        return await shell.run_list(script, io)
    finally:
        shell.depth -= 1


@builtin("eval")
async def _eval(shell: Shell, argv: list[str], io: FdIO) -> int:
    return await _run_text_here(shell, " ".join(argv[1:]), io)


@builtin(".")
@builtin("source")
async def _source(shell: Shell, argv: list[str], io: FdIO) -> int:
    if len(argv) < 2:
        return await _error(shell, io, f"{argv[0]}: missing argument")
    path = posixpath.normpath(posixpath.join(shell.cwd, argv[1]))
    try:
        access.check_read(path, shell.uid)
        text = shell.handset.fs.read(path).decode("utf-8", errors="replace")
    except FsError as exc:
        return await _error(shell, io, f"{argv[0]}: {argv[1]}: {exc.args[0].split(': ', 1)[-1]}")
    return await _run_text_here(shell, text, io)


@builtin("exec")
async def _exec(shell: Shell, argv: list[str], io: FdIO) -> int:
    if len(argv) == 1:
        return 0
    status = await shell.execute_argv(argv[1:], io, env=shell.environment(), uid=shell.uid, cwd=shell.cwd)
    raise ExitShell(status)


@builtin("read")
async def _read(shell: Shell, argv: list[str], io: FdIO) -> int:
    names = [a for a in argv[1:] if not a.startswith("-")] or ["REPLY"]
    data = io.stdin
    if not data:
        return 1
    line, newline, rest = data.partition(b"\n")
    io.stdin = rest  # consumed for the next `read` of this command's stdin
    words = line.decode("utf-8", errors="replace").split(None, len(names) - 1)
    for index, name in enumerate(names):
        shell.vars[name] = words[index] if index < len(words) else ""
    return 0 if newline else 1


@builtin("wait")
async def _wait(shell: Shell, argv: list[str], io: FdIO) -> int:
    await shell.join_background()
    return 0


@builtin("umask")
async def _umask(shell: Shell, argv: list[str], io: FdIO) -> int:
    if len(argv) == 1:
        await io.stdout(b"0077\n")
    return 0


@builtin("trap")
async def _trap(shell: Shell, argv: list[str], io: FdIO) -> int:
    return 0


@builtin("local")
@builtin("typeset")
async def _local(shell: Shell, argv: list[str], io: FdIO) -> int:
    return await _readonly(shell, argv, io)
