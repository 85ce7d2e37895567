"""`getprop` and `setprop` in Android 9's formats."""

from __future__ import annotations

from devicelab.virtual.shell import registry
from devicelab.virtual.shell.io import CommandContext


@registry.command("getprop", toybox=True)
async def getprop(ctx: CommandContext) -> int:
    args = [a for a in ctx.argv[1:] if a not in ("-T", "-Z")]
    props = ctx.system.props
    if not args:
        # a property set to "" reads as unset (sys.boot_completed before boot ends)
        await ctx.out("".join(f"[{name}]: [{props[name]}]\n" for name in sorted(props) if props[name]))
        return 0
    value = props.get(args[0], "")
    if not value and len(args) > 1:
        value = args[1]
    await ctx.out(value + "\n")
    return 0


@registry.command("setprop", toybox=True)
async def setprop(ctx: CommandContext) -> int:
    if len(ctx.argv) != 3:
        return await ctx.fail("Need 2 arguments" if len(ctx.argv) < 3 else "Max 2 arguments")
    name, value = ctx.argv[1], ctx.argv[2]
    if not ctx.system.setprop(name, value, root=ctx.root):
        return await ctx.fail(f"failed to set property '{name}' to '{value}'")
    return 0
