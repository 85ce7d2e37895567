"""Small commands every shell session uses: echo, printf, true/false, test, sleep, seq, uname,
basename/dirname, pwd."""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import re

from devicelab.virtual.fs import FsError
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.io import CommandContext

#: Longest `sleep` in host seconds; the real one also ends when adb closes the stream.
MAX_SLEEP = 600.0
KERNEL = "4.4.153-perf+"

_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unescape(text: str) -> tuple[str, bool]:
    """Backslash escapes as mksh's echo and printf read them; True when `\\c` stopped output."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "c":
            return "".join(out), True
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "0" or nxt in "1234567":
            digits = re.match(r"0?[0-7]{0,3}", text[i + 1 :])
            span = digits.group(0) if digits else ""
            out.append(chr(int(span.lstrip("0") or "0", 8) & 0xFF))
            i += 1 + max(1, len(span))
        else:
            out.append(c)
            i += 1
    return "".join(out), False


@registry.command("echo", needs_system=False, toybox=True)
async def echo(ctx: CommandContext) -> int:
    args, newline, escapes = ctx.argv[1:], True, True
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = "E" not in args[0] if "E" in args[0] or "e" in args[0] else escapes
        args = args[1:]
    text = " ".join(args)
    stopped = False
    if escapes:
        text, stopped = unescape(text)
    await ctx.out(text + ("\n" if newline and not stopped else ""))
    return 0


@registry.command("printf", needs_system=False, toybox=True)
async def printf(ctx: CommandContext) -> int:
    if len(ctx.argv) < 2:
        return await ctx.fail("needs 1 argument")
    fmt, args = ctx.argv[1], ctx.argv[2:]
    spec = re.compile(r"%([-+ #0]*\d*(?:\.\d+)?)([sdixXoc%b])")
    out: list[str] = []
    for _round in range(1000):
        used = 0
        current = list(args)

        def conv(match: re.Match[str], current: list[str] = current) -> str:
            nonlocal used
            flags, kind = match.groups()
            if kind == "%":
                return "%"
            value = current[used] if used < len(current) else ""
            used += 1
            if kind in "sb":
                return (("%" + flags + "s") % (unescape(value)[0] if kind == "b" else value))
            if kind == "c":
                return value[:1]
            try:
                number = int(value, 0) if value else 0
            except ValueError:
                number = 0
            return ("%" + flags + ("d" if kind == "i" else kind)) % number

        out.append(unescape(spec.sub(conv, fmt))[0])
        args = args[used:]
        if not args or not used:
            break
    await ctx.out("".join(out))
    return 0


@registry.command("true", ":", needs_system=False, toybox=True)
async def true(ctx: CommandContext) -> int:
    return 0


@registry.command("false", needs_system=False, toybox=True)
async def false(ctx: CommandContext) -> int:
    return 1


@registry.command("sleep", needs_system=False, toybox=True)
async def sleep(ctx: CommandContext) -> int:
    if len(ctx.argv) < 2:
        return await ctx.fail("needs 1 argument")
    total = 0.0
    for arg in ctx.argv[1:]:
        match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", arg)
        if match is None:
            return await ctx.fail(f"Bad number '{arg}'")
        total += float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    host_seconds = min(MAX_SLEEP, ctx.handset.clock.host_seconds(total))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ctx.io.closed.wait(), host_seconds)
    return 0


def test_expression(ctx: CommandContext, args: list[str]) -> bool | None:
    """`test`'s verdict on args; None for a malformed expression."""
    if not args:
        return False
    if args[0] == "!":
        inner = test_expression(ctx, args[1:])
        return None if inner is None else not inner
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, operand = args
        if op in ("-z", "-n"):
            return (operand == "") == (op == "-z")
        path = ctx.path(operand)
        fs = ctx.handset.fs
        try:
            node = fs.stat(path)
        except FsError:
            return False if op in ("-e", "-f", "-d", "-s", "-r", "-w", "-x", "-L", "-h") else None
        checks = {
            "-e": True, "-f": not node.is_dir, "-d": node.is_dir, "-s": node.size > 0,
            "-r": access.can_read(path, ctx.uid), "-w": ctx.uid == 0 or path.startswith(access.SHELL_WRITABLE),
            "-x": bool(node.mode & 0o111), "-L": False, "-h": False,
        }
        return checks.get(op)
    if len(args) == 3:
        left, op, right = args
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        numeric = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__,
                   "-gt": int.__gt__, "-ge": int.__ge__}
        if op in numeric:
            try:
                return bool(numeric[op](int(left), int(right)))
            except ValueError:
                return None
        if op in ("-a", "-o"):
            a, b = test_expression(ctx, [left]), test_expression(ctx, [right])
            return (a and b) if op == "-a" else (a or b)
    return None


@registry.command("test", "[", needs_system=False, toybox=True)
async def test(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    if ctx.argv[0] == "[":
        if not args or args[-1] != "]":
            return await ctx.fail("missing ]", 2)
        args = args[:-1]
    verdict = test_expression(ctx, args)
    if verdict is None:
        return await ctx.fail("bad expression", 2)
    return 0 if verdict else 1


@registry.command("uname", needs_system=False, toybox=True)
async def uname(ctx: CommandContext) -> int:
    flags = "".join(a[1:] for a in ctx.argv[1:] if a.startswith("-")) or "s"
    if "a" in flags:
        flags = "snrvm"
    system = ctx.handset.system
    built = system.getprop("ro.build.date") if system else "Fri Oct 19 02:10:47 CST 2018"
    fields = {"s": "Linux", "n": "localhost", "r": KERNEL, "v": f"#1 SMP PREEMPT {built}", "m": "aarch64"}
    await ctx.out(" ".join(fields[f] for f in "snrvm" if f in flags) + "\n")
    return 0


@registry.command("hostname", needs_system=False, toybox=True)
async def hostname(ctx: CommandContext) -> int:
    await ctx.out("localhost\n")
    return 0


@registry.command("basename", needs_system=False, toybox=True)
async def basename(ctx: CommandContext) -> int:
    if len(ctx.argv) < 2:
        return await ctx.fail("needs 1 argument")
    name = posixpath.basename(ctx.argv[1].rstrip("/")) or "/"
    if len(ctx.argv) > 2 and name.endswith(ctx.argv[2]) and name != ctx.argv[2]:
        name = name[: -len(ctx.argv[2])]
    await ctx.out(name + "\n")
    return 0


@registry.command("dirname", needs_system=False, toybox=True)
async def dirname(ctx: CommandContext) -> int:
    if len(ctx.argv) < 2:
        return await ctx.fail("needs 1 argument")
    await ctx.out((posixpath.dirname(ctx.argv[1].rstrip("/")) or ".") + "\n")
    return 0


@registry.command("pwd", needs_system=False, toybox=True)
async def pwd(ctx: CommandContext) -> int:
    await ctx.out(ctx.cwd + "\n")
    return 0


@registry.command("getenforce", needs_system=False)
async def getenforce(ctx: CommandContext) -> int:
    await ctx.out("Enforcing\n")
    return 0


@registry.command("seq", needs_system=False, toybox=True)
async def seq(ctx: CommandContext) -> int:
    try:
        numbers = [int(a) for a in ctx.argv[1:]]
    except ValueError:
        return await ctx.fail("bad number")
    if not 1 <= len(numbers) <= 3:
        return await ctx.fail("needs 1-3 arguments")
    first, step, last = (1, 1, numbers[0]) if len(numbers) == 1 else (
        (numbers[0], 1, numbers[1]) if len(numbers) == 2 else (numbers[0], numbers[1], numbers[2]))
    values = range(first, last + (1 if step > 0 else -1), step) if step else range(0)
    if len(values) > 1_000_000:
        return await ctx.fail("too many numbers")
    await ctx.out("".join(f"{v}\n" for v in values))
    return 0
