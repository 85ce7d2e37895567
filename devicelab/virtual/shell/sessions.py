"""Commands about who runs what: sh, su, id, whoami, env, which/command/type, toybox."""

from __future__ import annotations

from devicelab.virtual.fs import FsError
from devicelab.virtual.processes import uid_name, uid_of
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.interp import BUILTINS
from devicelab.virtual.shell.io import CommandContext

SHELL_GROUPS = "2000(shell),1004(input),1007(log),1011(adb),1015(sdcard_rw),1028(sdcard_r),3001(net_bt_admin)," \
    "3002(net_bt),3003(inet),3006(net_bw_stats),3009(readproc),3011(uhid)"


@registry.command("sh", "mksh", needs_system=False)
async def sh(ctx: CommandContext) -> int:
    assert ctx.runner is not None
    args = ctx.argv[1:]
    while args and args[0] in ("-e", "-x", "-l", "-i", "-s"):
        args = args[1:]
    if args and args[0] == "-c":
        if len(args) < 2:
            return await ctx.fail("-c: option requires an argument", 1)
        return await ctx.runner.run_script(ctx, args[1], name=args[2] if len(args) > 2 else "sh", args=args[3:])
    if args:
        path = ctx.path(args[0])
        try:
            access.check_read(path, ctx.uid)
            script = ctx.handset.fs.read(path).decode("utf-8", errors="replace")
        except FsError as exc:
            return await ctx.fail(f"{args[0]}: {exc.args[0].split(': ', 1)[-1]}", 127)
        return await ctx.runner.run_script(ctx, script, name=args[0], args=args[1:])
    return await ctx.runner.run_script(ctx, ctx.io.stdin.decode("utf-8", errors="replace"))


@registry.command("su", needs_system=False)
async def su(ctx: CommandContext) -> int:
    """AOSP's su (userdebug/eng builds): `su [WHO [COMMAND...]]`; `su -c CMD` as rooting tools take it."""
    assert ctx.runner is not None
    system = ctx.handset.system
    if not ctx.root and (system is None or system.build.build_type == "user"):
        await ctx.err(f"/system/bin/sh: {ctx.argv[0]}: inaccessible or not found\n")
        return 127
    if ctx.uid not in (0, 2000):
        return await ctx.fail(f"uid {ctx.uid} not allowed to su")
    args = ctx.argv[1:]
    uid = 0
    if args and args[0] not in ("-c", "--command") and not args[0].startswith("-"):
        who = uid_of(args[0])
        if who is None:
            return await ctx.fail(f"unknown user {args[0]}")
        uid, args = who, args[1:]
    elif args and args[0] in ("-", "-l", "--login"):
        args = args[1:]
    if args and args[0] in ("-c", "--command"):
        return await ctx.runner.run_script(ctx, " ".join(args[1:]), uid=uid, name="sh")
    if args:
        return await ctx.runner.run_argv(ctx, args, uid=uid)
    return await ctx.runner.run_script(ctx, ctx.io.stdin.decode("utf-8", errors="replace"), uid=uid)


@registry.command("id", needs_system=False, toybox=True)
async def id_(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    name = uid_name(ctx.uid)
    if "-u" in args or "-un" in args:
        await ctx.out((name if "-n" in args or "-un" in args else str(ctx.uid)) + "\n")
        return 0
    context = "u:r:su:s0" if ctx.uid == 0 else "u:r:shell:s0"
    groups = f"0(root),{SHELL_GROUPS.split(',', 1)[1]}" if ctx.uid == 0 else SHELL_GROUPS
    if ctx.uid not in (0, 2000):
        groups = f"{ctx.uid}({name})"
    await ctx.out(f"uid={ctx.uid}({name}) gid={ctx.uid}({name}) groups={groups} context={context}\n")
    return 0


@registry.command("whoami", needs_system=False, toybox=True)
async def whoami(ctx: CommandContext) -> int:
    await ctx.out(uid_name(ctx.uid) + "\n")
    return 0


@registry.command("env", "printenv", needs_system=False, toybox=True)
async def env(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    environment = dict(ctx.env)
    while args and "=" in args[0] and not args[0].startswith("="):
        key, _, value = args.pop(0).partition("=")
        environment[key] = value
    if ctx.name == "printenv" and args:
        if args[0] not in environment:
            return 1
        await ctx.out(environment[args[0]] + "\n")
        return 0
    if args and ctx.runner is not None:
        inner = CommandContext(args, ctx.handset, ctx.io, ctx.root, ctx.uid, environment, ctx.cwd, ctx.runner)
        return await ctx.runner.run_argv(inner, args)
    await ctx.out("".join(f"{k}={v}\n" for k, v in sorted(environment.items())))
    return 0


def _where(name: str) -> str | None:
    spec = registry.lookup(name)
    if spec is None:
        return None
    return name if "/" in name else f"/system/bin/{name}"


@registry.command("which", needs_system=False, toybox=True)
async def which(ctx: CommandContext) -> int:
    code = 0
    for name in (a for a in ctx.argv[1:] if not a.startswith("-")):
        where = _where(name)
        if where is None:
            code = 1
        else:
            await ctx.out(where + "\n")
    return code


@registry.command("command", "type", "whence", needs_system=False)
async def command_v(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    verbose = ctx.name != "command" or (args and args[0] == "-V")
    if args and args[0] in ("-v", "-V"):
        args = args[1:]
    elif ctx.name == "command" and args and ctx.runner is not None:
        return await ctx.runner.run_argv(ctx, args)
    code = 0
    for name in args:
        if name in BUILTINS:
            await ctx.out(f"{name} is a special shell builtin\n" if verbose else f"{name}\n")
        elif (where := _where(name)) is not None:
            await ctx.out(f"{name} is a tracked alias for {where}\n" if verbose else f"{where}\n")
        else:
            code = 1
            if verbose:
                await ctx.out(f"{name} not found\n")
    return code


@registry.command("toybox", needs_system=False)
async def toybox(ctx: CommandContext) -> int:
    assert ctx.runner is not None
    if len(ctx.argv) < 2:
        names = sorted(n for n in registry.command_names() if (s := registry.lookup(n)) is not None and s.toybox)
        await ctx.out(" ".join(names) + "\n")
        return 0
    spec = registry.lookup(ctx.argv[1])
    if spec is None or not spec.toybox or "/" in ctx.argv[1]:
        return await ctx.fail(f"Unknown command {ctx.argv[1]}")
    return await ctx.runner.run_argv(ctx, ctx.argv[1:])
