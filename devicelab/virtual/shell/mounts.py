"""toybox's mount and umount, as far as a lab uses them: a tmpfs over a read-only folder (the CA
overlay of a userdebug build whose /system dm-verity keeps read-only even for root). A reboot
drops every such mount (devicelab.virtual.handset)."""

from __future__ import annotations

from devicelab.virtual.fs import FsError
from devicelab.virtual.shell import registry
from devicelab.virtual.shell.files import reason
from devicelab.virtual.shell.io import CommandContext


@registry.command("mount", needs_system=False, toybox=True)
async def mount(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    fs = ctx.handset.fs
    if not args:
        await ctx.out("".join(f"tmpfs {m} tmpfs rw,seclabel,relatime 0 0\n" for m in fs.mounts))
        return 0
    if ctx.uid != 0:
        return await ctx.fail("need root")
    if len(args) == 4 and args[0] == "-t" and args[1] == "tmpfs":
        target = ctx.path(args[3])
        try:
            fs.mount_tmpfs(target)
        except FsError as exc:
            return await ctx.fail(f"'{args[3]}': {reason(exc)}")
        return 0
    return await ctx.fail(f"'{' '.join(args)}': Operation not supported")


@registry.command("umount", needs_system=False, toybox=True)
async def umount(ctx: CommandContext) -> int:
    if ctx.uid != 0:
        return await ctx.fail("need root")
    code = 0
    for arg in ctx.argv[1:]:
        if arg.startswith("-"):
            continue
        try:
            ctx.handset.fs.umount(ctx.path(arg))
        except FsError as exc:
            code = await ctx.fail(f"'{arg}': {reason(exc)}")
    return code
