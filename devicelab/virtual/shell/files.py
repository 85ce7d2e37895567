"""toybox's file commands that read the virtual file system: ls, cat, md5sum (and sha*sum),
stat, realpath, df; and the helpers the other file commands share."""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
import stat as statmod
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devicelab.virtual.fs import MESSAGES, FsError, Node
from devicelab.virtual.processes import uid_name
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.io import Command, CommandContext


def reason(exc: FsError) -> str:
    return MESSAGES.get(exc.code, exc.code)


def split_flags(args: list[str], known: str) -> tuple[set[str], list[str], str | None]:
    """Short flags (`-la` -> {l, a}) and operands; the third value is an unknown flag."""
    flags: set[str] = set()
    operands: list[str] = []
    only_operands = False
    for arg in args:
        if only_operands or not arg.startswith("-") or arg == "-":
            operands.append(arg)
        elif arg == "--":
            only_operands = True
        else:
            for ch in arg[1:]:
                if ch not in known:
                    return flags, operands, ch
                flags.add(ch)
    return flags, operands, None


def device_tz(ctx: CommandContext) -> dt.tzinfo:
    system = ctx.handset.system
    name = system.getprop("persist.sys.timezone") if system else "UTC"
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def own(ctx: CommandContext, path: str) -> None:
    """Files the shell creates belong to its user."""
    try:
        node = ctx.handset.fs.stat(path)
    except FsError:
        return
    node.uid = node.gid = ctx.uid


def read_file(ctx: CommandContext, arg: str) -> bytes:
    """A file's bytes for a command (`-` is stdin); FsError when it cannot be read."""
    if arg == "-":
        return ctx.io.stdin
    if arg in ("/dev/null", "/dev/zero"):
        return b""
    path = ctx.path(arg)
    access.check_read(path, ctx.uid)
    return ctx.handset.fs.read(path)


# -- ls ----------------------------------------------------------------------------------------
def _long_line(ctx: CommandContext, name: str, node: Node, widths: tuple[int, int, int, int]) -> str:
    when = dt.datetime.fromtimestamp(node.mtime, device_tz(ctx)).strftime("%Y-%m-%d %H:%M")
    size = 4096 if node.is_dir else node.size
    links = 2 if node.is_dir else 1
    user, group = uid_name(node.uid), uid_name(node.gid)
    return (f"{statmod.filemode(node.mode)} {links:>{widths[0]}} {user:<{widths[1]}} {group:<{widths[2]}} "
            f"{size:>{widths[3]}} {when} {name}")


async def _print_entries(ctx: CommandContext, entries: list[tuple[str, Node]], long: bool) -> None:
    if not long:
        await ctx.out("".join(f"{name}\n" for name, _ in entries))
        return
    widths = (
        max((len("2" if n.is_dir else "1") for _, n in entries), default=1),
        max((len(uid_name(n.uid)) for _, n in entries), default=1),
        max((len(uid_name(n.gid)) for _, n in entries), default=1),
        max((len(str(4096 if n.is_dir else n.size)) for _, n in entries), default=1),
    )
    await ctx.out("".join(_long_line(ctx, name, node, widths) + "\n" for name, node in entries))


@registry.command("ls", needs_system=False, toybox=True)
async def ls(ctx: CommandContext) -> int:
    flags, operands, bad = split_flags(ctx.argv[1:], "laAd1RtrhsSFnZiCx")
    if bad:
        return await ctx.fail(f"Unknown option '{bad}'")
    long = "l" in flags or "n" in flags
    targets = operands or ["."]
    code = 0
    files: list[tuple[str, Node]] = []
    dirs: list[tuple[str, str]] = []
    fs = ctx.handset.fs
    for arg in targets:
        path = ctx.path(arg)
        try:
            node = fs.stat(path)
        except FsError as exc:
            code = await ctx.fail(f"{arg}: {reason(exc)}")
            continue
        if node.is_dir and "d" not in flags:
            dirs.append((arg, path))
        else:
            files.append((arg, node))
    await _print_entries(ctx, files, long)
    for index, (arg, path) in enumerate(dirs):
        try:
            access.check_list(path, ctx.uid)
            entries = fs.listdir(path)
        except FsError as exc:
            code = await ctx.fail(f"{arg}: {reason(exc)}")
            continue
        if "a" not in flags and "A" not in flags:
            entries = [(n, node) for n, node in entries if not n.startswith(".")]
        if "a" in flags:
            entries = [(".", fs.stat(path)), ("..", fs.stat(posixpath.dirname(path) or "/")), *entries]
        if "t" in flags:
            entries.sort(key=lambda e: -e[1].mtime)
        if "r" in flags:
            entries.reverse()
        if len(targets) > 1:
            await ctx.out(("\n" if files or index else "") + f"{arg}:\n")
        if long:
            await ctx.out(f"total {sum((n.size + 1023) // 1024 for _, n in entries)}\n")
        await _print_entries(ctx, entries, long)
    return code


# -- reading -----------------------------------------------------------------------------------
@registry.command("cat", needs_system=False, toybox=True)
async def cat(ctx: CommandContext) -> int:
    code = 0
    for arg in ctx.argv[1:] or ["-"]:
        if arg.startswith("-") and arg != "-":
            continue  # -u, -v: no effect here
        try:
            await ctx.out(read_file(ctx, arg))
        except FsError as exc:
            code = await ctx.fail(f"{arg}: {reason(exc)}")
    return code


def _digest_command(algorithm: str) -> Command:
    async def run(ctx: CommandContext) -> int:
        code = 0
        operands = [a for a in ctx.argv[1:] if not a.startswith("-") or a == "-"] or ["-"]
        for arg in operands:
            try:
                data = read_file(ctx, arg)
            except FsError as exc:
                code = await ctx.fail(f"{arg}: {reason(exc)}")
                continue
            await ctx.out(f"{hashlib.new(algorithm, data).hexdigest()}  {arg}\n")
        return code

    return run


for _name, _algorithm in (("md5sum", "md5"), ("sha1sum", "sha1"), ("sha224sum", "sha224"),
                          ("sha256sum", "sha256"), ("sha384sum", "sha384"), ("sha512sum", "sha512")):
    registry.register_command(_name, _digest_command(_algorithm), needs_system=False, toybox=True)


@registry.command("stat", needs_system=False, toybox=True)
async def stat_(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    fmt = None
    if len(args) >= 2 and args[0] in ("-c", "--format"):
        fmt, args = args[1], args[2:]
    code = 0
    for arg in args:
        try:
            node = ctx.handset.fs.stat(ctx.path(arg))
        except FsError as exc:
            code = await ctx.fail(f"{arg}: {reason(exc)}")
            continue
        kind = "directory" if node.is_dir else ("regular empty file" if not node.size else "regular file")
        values = {"s": str(node.size), "n": arg, "a": f"{node.mode & 0o7777:o}", "A": statmod.filemode(node.mode),
                  "U": uid_name(node.uid), "G": uid_name(node.gid), "u": str(node.uid), "g": str(node.gid),
                  "Y": str(node.mtime), "F": kind, "%": "%"}
        if fmt is None:
            await ctx.out(f"  File: `{arg}'\n  Size: {node.size}\t Blocks: {(node.size + 511) // 512}\t "
                          f"IO Blocks: 512\t{kind}\nAccess: ({node.mode & 0o7777:04o}/{statmod.filemode(node.mode)})"
                          f"\tUid: ({node.uid:5}/{uid_name(node.uid):>8})"
                          f"\tGid: ({node.gid:5}/{uid_name(node.gid):>8})\n")
        else:
            out, i = [], 0
            while i < len(fmt):
                if fmt[i] == "%" and i + 1 < len(fmt):
                    out.append(values.get(fmt[i + 1], "?"))
                    i += 2
                else:
                    out.append(fmt[i])
                    i += 1
            await ctx.out("".join(out) + "\n")
    return code


@registry.command("realpath", "readlink", needs_system=False, toybox=True)
async def realpath(ctx: CommandContext) -> int:
    code = 0
    for arg in (a for a in ctx.argv[1:] if not a.startswith("-")):
        path = ctx.path(arg)
        if not ctx.handset.fs.exists(path):
            code = 1
            continue
        await ctx.out(path + "\n")
    return code


@registry.command("df", needs_system=False, toybox=True)
async def df(ctx: CommandContext) -> int:
    fs = ctx.handset.fs
    data_used = sum(fs.stat(p).size for p in fs.walk_files("/data")) // 1024 + 2_345_678
    system_used = sum(fs.stat(p).size for p in fs.walk_files("/system")) // 1024 + 2_512_344
    rows = [
        ("/dev/root", 2_999_516, system_used, "/"),
        ("tmpfs", 1_910_580, 508, "/dev"),
        ("tmpfs", 1_910_580, 0, "/mnt"),
        ("/dev/block/sde45", 1_007_760, 722_144, "/vendor"),
        ("/dev/block/dm-0", 51_290_124, data_used, "/data"),
        ("/dev/fuse", 51_290_124, data_used, "/storage/emulated"),
    ]
    lines = ["Filesystem            1K-blocks    Used Available Use% Mounted on"]
    for name, size, used, mount in rows:
        used = min(used, size)
        lines.append(f"{name:<21} {size:>9} {used:>7} {size - used:>9} {round(100 * used / size):>3}% {mount}")
    await ctx.out("\n".join(lines) + "\n")
    return 0
