"""toybox's file commands that change the virtual file system: rm, rmdir, mkdir, touch, cp, mv,
chmod. Writes follow the shell user's permissions (devicelab.virtual.shell.access)."""

from __future__ import annotations

import posixpath

from devicelab.virtual.fs import FsError
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.files import own, reason, split_flags
from devicelab.virtual.shell.io import CommandContext


@registry.command("rm", needs_system=False, toybox=True)
async def rm(ctx: CommandContext) -> int:
    flags, operands, bad = split_flags(ctx.argv[1:], "rRfiv")
    if bad:
        return await ctx.fail(f"Unknown option '{bad}'")
    if not operands and "f" not in flags:
        return await ctx.fail("Needs 1 argument")
    code = 0
    fs = ctx.handset.fs
    for arg in operands:
        path = ctx.path(arg)
        try:
            node = fs.stat(path)
            if node.is_dir and not flags & {"r", "R"}:
                raise FsError("EISDIR", path)
            access.check_write(path, ctx.uid)
            fs.remove(path, root=True, recursive=True)
        except FsError as exc:
            if exc.code == "ENOENT" and "f" in flags:
                continue
            code = await ctx.fail(f"{arg}: {reason(exc)}")
    return code


@registry.command("rmdir", needs_system=False, toybox=True)
async def rmdir(ctx: CommandContext) -> int:
    code = 0
    for arg in (a for a in ctx.argv[1:] if not a.startswith("-")):
        path = ctx.path(arg)
        try:
            if not ctx.handset.fs.stat(path).is_dir:
                raise FsError("ENOTDIR", path)
            access.check_write(path, ctx.uid)
            ctx.handset.fs.remove(path, root=True)
        except FsError as exc:
            code = await ctx.fail(f"{arg}: {reason(exc)}")
    return code


@registry.command("mkdir", needs_system=False, toybox=True)
async def mkdir(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    parents = False
    operands = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
        elif arg in ("-p", "--parents"):
            parents = True
        elif arg == "-m":
            skip = index + 1 < len(args)
        elif not arg.startswith("-"):
            operands.append(arg)
    if not operands:
        return await ctx.fail("Needs 1 argument")
    code = 0
    fs = ctx.handset.fs
    for arg in operands:
        path = ctx.path(arg)
        try:
            if fs.exists(path):
                if parents and fs.stat(path).is_dir:
                    continue
                raise FsError("EEXIST", path)
            parent = posixpath.dirname(path)
            if not parents and not fs.exists(parent):
                raise FsError("ENOENT", path)
            access.check_write(path, ctx.uid)
            fs.mkdirs(path)
            own(ctx, path)
        except FsError as exc:
            code = await ctx.fail(f"'{arg}': {reason(exc)}")
    return code


@registry.command("touch", needs_system=False, toybox=True)
async def touch(ctx: CommandContext) -> int:
    code = 0
    fs = ctx.handset.fs
    for arg in (a for a in ctx.argv[1:] if not a.startswith("-")):
        path = ctx.path(arg)
        try:
            access.check_write(path, ctx.uid)
            if fs.exists(path):
                fs.append(path, b"")
            else:
                fs.write(path, b"")
                own(ctx, path)
        except FsError as exc:
            code = await ctx.fail(f"'{arg}': {reason(exc)}")
    return code


async def _copy(ctx: CommandContext, *, move: bool) -> int:
    flags, operands, bad = split_flags(ctx.argv[1:], "rRfpaivn")
    if bad:
        return await ctx.fail(f"Unknown option '{bad}'")
    if len(operands) < 2:
        return await ctx.fail("Needs 2 arguments")
    fs = ctx.handset.fs
    dest = ctx.path(operands[-1])
    dest_is_dir = fs.exists(dest) and fs.stat(dest).is_dir
    code = 0
    for arg in operands[:-1]:
        src = ctx.path(arg)
        target = posixpath.join(dest, posixpath.basename(src)) if dest_is_dir else dest
        try:
            node = fs.stat(src)
            access.check_read(src, ctx.uid)
            access.check_write(target, ctx.uid)
            if node.is_dir:
                if not move and not flags & {"r", "R", "a"}:
                    raise FsError("EISDIR", src)
                fs.mkdirs(target)
                for path in list(fs.walk_files(src)):
                    fs.write(target + path[len(src):], fs.read(path), make_parents=True)
            else:
                fs.write(target, fs.read(src), mode=node.mode)
                own(ctx, target)
            if move:
                access.check_write(src, ctx.uid)
                fs.remove(src, root=True, recursive=True)
        except FsError as exc:
            code = await ctx.fail(f"{arg}: {reason(exc)}")
    return code


@registry.command("cp", needs_system=False, toybox=True)
async def cp(ctx: CommandContext) -> int:
    return await _copy(ctx, move=False)


@registry.command("mv", needs_system=False, toybox=True)
async def mv(ctx: CommandContext) -> int:
    return await _copy(ctx, move=True)


@registry.command("chmod", needs_system=False, toybox=True)
async def chmod(ctx: CommandContext) -> int:
    operands = [a for a in ctx.argv[1:] if a not in ("-R", "-f", "-v", "-h")]
    if len(operands) < 2:
        return await ctx.fail("Needs 2 arguments")
    mode_text, paths = operands[0], operands[1:]
    if not mode_text.isdecimal() or any(c not in "01234567" for c in mode_text):
        return await ctx.fail(f"bad mode '{mode_text}'")
    code = 0
    for arg in paths:
        path = ctx.path(arg)
        try:
            node = ctx.handset.fs.stat(path)
            access.check_write(path, ctx.uid)
            node.mode = (node.mode & ~0o7777) | int(mode_text, 8)
        except FsError as exc:
            code = await ctx.fail(f"{arg}: {reason(exc)}")
    return code
