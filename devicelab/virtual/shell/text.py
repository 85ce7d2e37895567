"""Text filters for pipes: grep, head, tail, wc, cut, sort, uniq, tr, tee, xargs."""

from __future__ import annotations

import re

from devicelab.virtual.fs import FsError
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.files import read_file, reason
from devicelab.virtual.shell.io import CommandContext

MAX_XARGS = 10_000  # commands one `xargs` may run


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


async def _inputs(ctx: CommandContext, operands: list[str]) -> tuple[list[tuple[str, bytes]], int]:
    """(name, data) for each operand (stdin when there is none); failures are reported."""
    found, code = [], 0
    for arg in operands or ["-"]:
        try:
            found.append((arg, read_file(ctx, arg)))
        except FsError as exc:
            code = await ctx.fail(f"{arg}: {reason(exc)}", 2 if ctx.name == "grep" else 1)
    return found, code


def _bre_to_python(pattern: str) -> str:
    """POSIX basic regex to Python: `\\(`, `\\|`, `\\{` are operators, bare ones are literal."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "(){}|+?" else "\\" + nxt)
            i += 2
            continue
        out.append("\\" + c if c in "(){}|+?" else c)
        i += 1
    return "".join(out)


@registry.command("grep", "egrep", "fgrep", needs_system=False, toybox=True)
async def grep(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    flags: set[str] = {"E"} if ctx.name == "egrep" else ({"F"} if ctx.name == "fgrep" else set())
    patterns: list[str] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-e" and i + 1 < len(args):
            patterns.append(args[i + 1])
            i += 2
            continue
        if arg.startswith("--") and len(arg) > 2:
            i += 1
            continue
        if arg.startswith("-") and len(arg) > 1 and not operands:
            unknown = set(arg[1:]) - set("ivcnoqwxEFlhHsr")
            if unknown:
                return await ctx.fail(f"Unknown option '{sorted(unknown)[0]}'", 2)
            flags |= set(arg[1:])
        else:
            operands.append(arg)
        i += 1
    if not patterns:
        if not operands:
            return await ctx.fail("Needs 1 argument", 2)
        patterns.append(operands.pop(0))
    try:
        sources = [re.escape(p) if "F" in flags else (p if "E" in flags else _bre_to_python(p)) for p in patterns]
        if "w" in flags:
            sources = [rf"\b(?:{s})\b" for s in sources]
        if "x" in flags:
            sources = [rf"^(?:{s})$" for s in sources]
        regex = re.compile("|".join(f"(?:{s})" for s in sources), re.IGNORECASE if "i" in flags else 0)
    except re.error as exc:
        return await ctx.fail(f"bad regex '{patterns[0]}': {exc}", 2)
    inputs, code = await _inputs(ctx, operands)
    matched = False
    show_name = ("H" in flags or len(inputs) > 1) and "h" not in flags
    out: list[str] = []
    for name, data in inputs:
        count = 0
        for number, raw in enumerate(_lines(data), 1):
            line = raw.decode("utf-8", errors="replace")
            hit = regex.search(line) is not None
            if hit == ("v" in flags):
                continue
            count += 1
            matched = True
            if flags & {"q", "l", "c"}:
                continue
            prefix = (f"{name}:" if show_name else "") + (f"{number}:" if "n" in flags else "")
            if "o" in flags and "v" not in flags:
                out.extend(f"{prefix}{m.group(0)}\n" for m in regex.finditer(line) if m.group(0))
            else:
                out.append(f"{prefix}{line}\n")
        if "c" in flags:
            out.append((f"{name}:" if show_name else "") + f"{count}\n")
        elif "l" in flags and count:
            out.append(f"{name}\n")
    if "q" in flags:
        return 0 if matched else 1
    await ctx.out("".join(out))
    return code or (0 if matched else 1)


def _count_arg(ctx: CommandContext, default: int = 10) -> tuple[int, bool, bool, list[str]]:
    """-n N / -N / -c N for head and tail: (count, from_start (+N), bytes, operands)."""
    args = ctx.argv[1:]
    count, plus, use_bytes, operands = default, False, False, []
    i = 0
    while i < len(args):
        arg = args[i]
        value = None
        if arg in ("-n", "-c") and i + 1 < len(args):
            value, use_bytes = args[i + 1], arg == "-c"
            i += 1
        elif arg.startswith(("-n", "-c")) and len(arg) > 2:
            value, use_bytes = arg[2:], arg.startswith("-c")
        elif re.fullmatch(r"-\d+", arg):
            value = arg[1:]
        else:
            operands.append(arg)
        if value is not None:
            plus = value.startswith("+")
            count = int(value.lstrip("+-")) if value.lstrip("+-").isdecimal() else default
        i += 1
    return count, plus, use_bytes, operands


@registry.command("head", needs_system=False, toybox=True)
async def head(ctx: CommandContext) -> int:
    count, _plus, use_bytes, operands = _count_arg(ctx)
    inputs, code = await _inputs(ctx, operands)
    for _name, data in inputs:
        if use_bytes:
            await ctx.out(data[:count])
        else:
            await ctx.out(b"".join(line + b"\n" for line in _lines(data)[:count]))
    return code


@registry.command("tail", needs_system=False, toybox=True)
async def tail(ctx: CommandContext) -> int:
    count, plus, use_bytes, operands = _count_arg(ctx)
    inputs, code = await _inputs(ctx, [o for o in operands if o != "-f"])
    for _name, data in inputs:
        if use_bytes:
            await ctx.out(data[count - 1 :] if plus else data[-count:] if count else b"")
            continue
        lines = _lines(data)
        chosen = lines[max(0, count - 1) :] if plus else (lines[-count:] if count else [])
        await ctx.out(b"".join(line + b"\n" for line in chosen))
    return code


@registry.command("wc", needs_system=False, toybox=True)
async def wc(ctx: CommandContext) -> int:
    flags = {c for a in ctx.argv[1:] if a.startswith("-") and a != "-" for c in a[1:]} or {"l", "w", "c"}
    operands = [a for a in ctx.argv[1:] if not a.startswith("-") or a == "-"]
    inputs, code = await _inputs(ctx, operands)
    for name, data in inputs:
        counts = {"l": data.count(b"\n"), "w": len(data.split()), "c": len(data),
                  "m": len(data.decode(errors="replace"))}
        fields = [str(counts[f]) for f in "lwmc" if f in flags]
        await ctx.out(" ".join(fields) + (f" {name}" if operands else "") + "\n")
    return code


def _ranges(spec: str) -> list[tuple[int, int]]:
    ranges = []
    for part in spec.split(","):
        start, dash, end = part.partition("-")
        low = int(start) if start else 1
        high = (int(end) if end else 1 << 30) if dash else low
        if low < 1 or high < low:
            raise ValueError(part)
        ranges.append((low, high))
    return ranges


@registry.command("cut", needs_system=False, toybox=True)
async def cut(ctx: CommandContext) -> int:
    args, delim, fields, chars, operands = ctx.argv[1:], "\t", "", "", []
    i = 0
    while i < len(args):
        arg = args[i]
        for opt in ("-d", "-f", "-c", "-b"):
            if arg.startswith(opt):
                value = arg[2:] if len(arg) > 2 else (args[i + 1] if i + 1 < len(args) else "")
                i += 0 if len(arg) > 2 else 1
                if opt == "-d":
                    delim = value[:1] or "\t"
                elif opt == "-f":
                    fields = value
                else:
                    chars = value
                break
        else:
            operands.append(arg)
        i += 1
    try:
        ranges = _ranges(fields or chars)
    except ValueError:
        return await ctx.fail("bad list: needs -f, -c or -b with a list like 1,3-4")
    inputs, code = await _inputs(ctx, operands)
    out: list[str] = []
    for _name, data in inputs:
        for raw in _lines(data):
            line = raw.decode("utf-8", errors="replace")
            if chars:
                out.append("".join(line[low - 1 : high] for low, high in ranges))
                continue
            if delim not in line:
                out.append(line)
                continue
            parts = line.split(delim)
            picked = [parts[n - 1] for n in range(1, len(parts) + 1) if any(lo <= n <= hi for lo, hi in ranges)]
            out.append(delim.join(picked))
    await ctx.out("".join(f"{line}\n" for line in out))
    return code


@registry.command("sort", needs_system=False, toybox=True)
async def sort(ctx: CommandContext) -> int:
    flags = {c for a in ctx.argv[1:] if a.startswith("-") and a != "-" for c in a[1:]}
    inputs, code = await _inputs(ctx, [a for a in ctx.argv[1:] if not a.startswith("-") or a == "-"])
    lines = [line.decode("utf-8", errors="replace") for _, data in inputs for line in _lines(data)]

    def number(line: str) -> float:
        match = re.match(r"\s*-?\d+(\.\d+)?", line)
        return float(match.group(0)) if match else 0.0

    lines.sort(key=number if "n" in flags else (str.lower if "f" in flags else None), reverse="r" in flags)
    if "u" in flags:
        lines = list(dict.fromkeys(lines))
    await ctx.out("".join(f"{line}\n" for line in lines))
    return code


@registry.command("uniq", needs_system=False, toybox=True)
async def uniq(ctx: CommandContext) -> int:
    flags = {c for a in ctx.argv[1:] if a.startswith("-") and a != "-" for c in a[1:]}
    inputs, code = await _inputs(ctx, [a for a in ctx.argv[1:] if not a.startswith("-") or a == "-"][:1])
    groups: list[tuple[bytes, int]] = []
    for _, data in inputs:
        for line in _lines(data):
            if groups and groups[-1][0] == line:
                groups[-1] = (line, groups[-1][1] + 1)
            else:
                groups.append((line, 1))
    for line, count in groups:
        if ("d" in flags and count < 2) or ("u" in flags and count > 1):
            continue
        await ctx.out((f"{count:7} ".encode() if "c" in flags else b"") + line + b"\n")
    return code


def _charset(spec: str) -> str:
    classes = {"[:upper:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "[:lower:]": "abcdefghijklmnopqrstuvwxyz",
               "[:digit:]": "0123456789", "[:space:]": " \t\n\r\f\v", "[:blank:]": " \t"}
    for name, chars in classes.items():
        spec = spec.replace(name, chars)
    spec = spec.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r").replace("\\\\", "\\")
    out: list[str] = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-" and ord(spec[i]) <= ord(spec[i + 2]):
            out.extend(chr(c) for c in range(ord(spec[i]), min(ord(spec[i + 2]), ord(spec[i]) + 4096) + 1))
            i += 3
        else:
            out.append(spec[i])
            i += 1
    return "".join(out)


@registry.command("tr", needs_system=False, toybox=True)
async def tr(ctx: CommandContext) -> int:
    flags = {c for a in ctx.argv[1:] if a.startswith("-") and len(a) > 1 for c in a[1:]}
    sets = [_charset(a) for a in ctx.argv[1:] if not (a.startswith("-") and len(a) > 1)]
    if not sets or (len(sets) < 2 and "d" not in flags and "s" not in flags):
        return await ctx.fail("Needs 2 arguments")
    text = ctx.io.stdin.decode("utf-8", errors="replace")
    if "d" in flags:
        text = text.translate({ord(c): None for c in sets[0]})
    elif len(sets) > 1:
        target = sets[1] + sets[1][-1:] * max(0, len(sets[0]) - len(sets[1]))
        text = text.translate({ord(a): b for a, b in zip(sets[0], target, strict=False)})
    if "s" in flags:
        squeeze = sets[-1]
        text = re.sub("([" + re.escape(squeeze) + "])\\1+", r"\1", text) if squeeze else text
    await ctx.out(text)
    return 0


@registry.command("tee", needs_system=False, toybox=True)
async def tee(ctx: CommandContext) -> int:
    append = "-a" in ctx.argv[1:]
    data = ctx.io.stdin
    code = 0
    for arg in (a for a in ctx.argv[1:] if not a.startswith("-")):
        path = ctx.path(arg)
        try:
            access.check_write(path, ctx.uid)
            if append:
                ctx.handset.fs.append(path, data)
            else:
                ctx.handset.fs.write(path, data)
        except FsError as exc:
            code = await ctx.fail(f"{arg}: {reason(exc)}")
    await ctx.out(data)
    return code


@registry.command("xargs", needs_system=False, toybox=True)
async def xargs(ctx: CommandContext) -> int:
    assert ctx.runner is not None
    args = ctx.argv[1:]
    per_run = 0
    while args and args[0].startswith("-"):
        if args[0] == "-n" and len(args) > 1 and args[1].isdecimal():
            per_run, args = int(args[1]), args[2:]
        else:
            args = args[1:]
    words = ctx.io.stdin.decode("utf-8", errors="replace").split()
    base = args or ["echo"]
    batches = [words[i : i + per_run] for i in range(0, len(words), per_run)] if per_run else [words]
    code = 0
    for batch in batches[:MAX_XARGS]:
        status = await ctx.runner.run_argv(ctx, [*base, *batch])
        code = code or (123 if status else 0)
    return code
