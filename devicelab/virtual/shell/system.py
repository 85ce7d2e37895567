"""System commands: ps, pidof, kill, date, uptime, reboot, svc, cmd, wm, ime, app_process."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from devicelab.virtual.events import InputEvent
from devicelab.virtual.fs import FsError
from devicelab.virtual.processes import uid_name
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.files import device_tz
from devicelab.virtual.shell.io import CommandContext
from devicelab.virtual.shell.pm import cmd_package
from devicelab.virtual.ui import display

LATIN_IME = "com.google.android.inputmethod.latin/com.android.inputmethod.latin.LatinIME"


# -- processes ---------------------------------------------------------------------------------
@registry.command("ps", toybox=True)
async def ps(ctx: CommandContext) -> int:
    system = ctx.system
    args = ctx.argv[1:]
    show_all = any(a.startswith("-") and ("A" in a or "e" in a) for a in args)
    names = [a for a in args if not a.startswith("-")]
    me = system.processes.spawn("ps", ctx.uid, native=True)
    try:
        procs = system.processes.all()
        if names:
            procs = [p for p in procs if p.name in names or str(p.pid) in names]
        elif not show_all:  # toybox: this user's processes on this terminal
            procs = [p for p in procs if p.uid == ctx.uid and p.name in ("sh", "ps")]
        lines = [f"{'USER':<12} {'PID':>5} {'PPID':>5} {'VSZ':>7} {'RSS':>6} {'WCHAN':<16} {'ADDR':>4} S NAME"]
        for p in procs:
            wchan = "0" if p.name == "ps" else p.wchan
            state = "R" if p.name == "ps" else p.state
            lines.append(f"{uid_name(p.uid):<12} {p.pid:>5} {p.ppid:>5} {p.vsz:>7} {p.rss:>6} {wchan:<16} "
                         f"{0:>4} {state} {p.name}")
    finally:
        system.processes.kill(me.pid)
    await ctx.out("\n".join(lines) + "\n")
    return 0


@registry.command("pidof", toybox=True)
async def pidof(ctx: CommandContext) -> int:
    pids = [str(p.pid) for name in ctx.argv[1:] for p in ctx.system.processes.by_name(name)]
    if not pids:
        return 1
    await ctx.out(" ".join(pids) + "\n")
    return 0


@registry.command("kill", toybox=True)
async def kill(ctx: CommandContext) -> int:
    code = 0
    for arg in ctx.argv[1:]:
        if arg.startswith("-"):
            continue
        proc = ctx.system.processes.get(int(arg)) if arg.isdecimal() else None
        if proc is None:
            code = await ctx.fail(f"{arg}: No such process")
        elif ctx.uid != 0 and proc.uid != ctx.uid:
            code = await ctx.fail(f"pid {arg}: Operation not permitted")
        else:
            ctx.system.processes.kill(proc.pid)
    return code


# -- time --------------------------------------------------------------------------------------
@registry.command("date", needs_system=False, toybox=True)
async def date(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    tz = dt.UTC if "-u" in args else device_tz(ctx)
    args = [a for a in args if a != "-u"]
    clock = ctx.handset.clock
    now = dt.datetime.fromtimestamp(clock.now(), tz)
    setting = [a for a in args if not a.startswith("+")]
    if setting:
        text = setting[-1]
        match = re.fullmatch(r"(\d\d)(\d\d)(\d\d)(\d\d)(\d{2}|\d{4})?(?:\.(\d\d))?", text)
        if match is None and args[0] != "-s":
            return await ctx.fail(f"bad date '{text}'")
        if not ctx.root:
            return await ctx.fail("cannot set date: Operation not permitted")
        if match is None:
            return await ctx.fail(f"bad date '{text}'")
        month, day, hour, minute, year, second = match.groups()
        full_year = now.year if not year else (int(year) if len(year) == 4 else 2000 + int(year))
        try:
            target = now.replace(year=full_year, month=int(month), day=int(day), hour=int(hour), minute=int(minute),
                                 second=int(second or 0), microsecond=0)
        except ValueError:
            return await ctx.fail(f"bad date '{text}'")
        clock.jump(target.timestamp() - clock.now())
        now = target
    fmt = next((a[1:] for a in args if a.startswith("+")), "%a %b %e %H:%M:%S %Z %Y")
    await ctx.out(now.strftime(fmt.replace("%N", f"{now.microsecond * 1000:09d}")) + "\n")
    return 0


@registry.command("uptime", toybox=True)
async def uptime(ctx: CommandContext) -> int:
    elapsed = int(ctx.handset.clock.elapsed_realtime())
    now = dt.datetime.fromtimestamp(ctx.handset.clock.now(), device_tz(ctx))
    days, rest = divmod(elapsed, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    text = f" {now:%H:%M:%S} up "
    if days:
        text += f"{days} day{'s' if days != 1 else ''}, "
    text += f"{hours:2d}:{minutes:02d}, " if hours else f"{minutes} min, "
    await ctx.out(text + " 0 users,  load average: 0.52, 0.58, 0.59\n")
    return 0


# -- power -------------------------------------------------------------------------------------
@registry.command("reboot", needs_system=False)
async def reboot(ctx: CommandContext) -> int:
    args = [a for a in ctx.argv[1:] if a not in ("-f", "-n")]
    handset = ctx.handset
    if "-p" in args:
        asyncio.get_running_loop().create_task(handset.power_off())
        return 0
    reason_arg = args[0] if args else ""
    target = reason_arg if reason_arg in ("bootloader", "recovery") else "system"
    if handset.system is not None:
        handset.system.logcat.write("ShutdownThread", f"Rebooting, reason: {reason_arg or 'null'}", pid=1000)
    handset.reboot(target)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    return 0


SVC_HELP = """Available commands:
    help     Show information about the subcommands
    power    Control the power manager
    data     Control mobile data connectivity
    wifi     Control the Wi-Fi manager
    usb      Control Usb state
    nfc      Control NFC functions
"""


@registry.command("svc")
async def svc(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    system = ctx.system
    radio = system.radio
    if len(args) >= 2 and args[0] == "wifi" and args[1] in ("enable", "disable"):
        enable = args[1] == "enable"
        if not enable:
            radio.wifi_connected = False
        radio.wifi_enabled = enable
        system.settings("global")["wifi_on"] = "1" if enable else "0"
        system.logcat.write("WifiService", f"setWifiEnabled: {str(enable).lower()} pid=0, uid=2000, package=null",
                            pid=system.system_server_pid())
        return 0
    if len(args) >= 2 and args[0] == "data" and args[1] in ("enable", "disable"):
        radio.mobile_data = args[1] == "enable"
        system.settings("global")["mobile_data"] = "1" if radio.mobile_data else "0"
        return 0
    if len(args) >= 3 and args[0] == "power" and args[1] == "stayon":
        system.settings("global")["stay_on_while_plugged_in"] = "0" if args[2] == "false" else "7"
        return 0
    if len(args) >= 2 and args[0] == "usb" and args[1] == "getFunctions":
        await ctx.out("mtp,adb\n" if system.setup_complete() else "adb\n")
        return 0
    if len(args) >= 2 and args[0] == "nfc" and args[1] in ("enable", "disable"):
        return 0
    await ctx.out(SVC_HELP)
    return 0


# -- window manager ----------------------------------------------------------------------------
@registry.command("wm")
async def wm(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    system = ctx.system
    if args and args[0] == "size":
        if len(args) == 1:
            text = f"Physical size: {display.WIDTH}x{display.HEIGHT}\n"
            if system.size_override:
                text += f"Override size: {system.size_override[0]}x{system.size_override[1]}\n"
            await ctx.out(text)
            return 0
        if args[1] == "reset":
            system.size_override = None
            return 0
        match = re.fullmatch(r"(\d+)x(\d+)", args[1])
        if match is None or not all(100 <= int(v) <= 8192 for v in match.groups()):
            await ctx.err(f"Error: bad size {args[1]}\n")
            return 255
        system.size_override = (int(match.group(1)), int(match.group(2)))
        return 0
    if args and args[0] == "dismiss-keyguard":
        system.inject_input(InputEvent("dismiss-keyguard", system.clock.now(), source="wm"))
        return 0
    if args and args[0] == "density":
        if len(args) == 1:
            text = f"Physical density: {display.DENSITY_DPI}\n"
            if system.density_override:
                text += f"Override density: {system.density_override}\n"
            await ctx.out(text)
            return 0
        if args[1] == "reset":
            system.density_override = None
            return 0
        if not args[1].isdecimal() or not 72 <= int(args[1]) <= 1000:
            await ctx.err(f"Error: bad number {args[1]}\n")
            return 255
        system.density_override = int(args[1])
        return 0
    await ctx.err("Window manager (window) commands:\n  help\n  size [reset|WxH|WdpxHdp]\n  density [reset|DENSITY]\n")
    return 255


# -- input methods -----------------------------------------------------------------------------
def _input_methods(ctx: CommandContext) -> list[str]:
    system = ctx.system
    found = [LATIN_IME] if system.package("com.google.android.gms") is not None else []
    return found + [ime for ime in system.settings("secure").get("enabled_input_methods", "").split(":")
                    if ime and ime not in found]


@registry.command("ime")
async def ime(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    secure = ctx.system.settings("secure")
    methods = _input_methods(ctx)
    if args and args[0] == "list":
        if "-s" in args:
            await ctx.out("".join(f"{m}\n" for m in methods))
        else:
            await ctx.out("".join(f"{m}:\n  mId={m} mSettingsActivity=null\n" for m in methods))
        return 0
    if len(args) >= 2 and args[0] in ("enable", "disable", "set"):
        ime_id = args[-1]
        if args[0] == "set":
            if ime_id not in methods:
                await ctx.err(f"Unknown input method {ime_id} cannot be selected for user #0\n")
                return 255
            secure["default_input_method"] = ime_id
            await ctx.out(f"Input method {ime_id} selected for user #0\n")
            return 0
        enabled = [m for m in secure.get("enabled_input_methods", "").split(":") if m]
        if args[0] == "enable":
            state = "already enabled" if ime_id in enabled else "now enabled"
            enabled = [*dict.fromkeys([*enabled, ime_id])]
        else:
            state = "now disabled" if ime_id in enabled else "already disabled"
            enabled = [m for m in enabled if m != ime_id]
        secure["enabled_input_methods"] = ":".join(enabled)
        await ctx.out(f"Input method {ime_id}: {state} for user #0\n")
        return 0
    await ctx.err("ime <command>:\n  list [-a] [-s]\n  enable [--user <USER_ID>] <ID>\n  set <ID>\n")
    return 255


# -- cmd ---------------------------------------------------------------------------------------
CMD_SERVICES = {"package": "pm", "activity": "am", "window": "wm", "settings": "settings", "input_method": "ime",
                "wifi": "", "statusbar": "", "connectivity": "", "netpolicy": "", "user": "", "appops": ""}


@registry.command("cmd")
async def cmd(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    if not args:
        await ctx.err("cmd: No service specified; use -l to list all services\n")
        return 20
    if args[0] == "-l":
        await ctx.out("Currently running services:\n" + "".join(f"  {s}\n" for s in sorted(CMD_SERVICES)))
        return 0
    service = args[0]
    if service not in CMD_SERVICES:
        await ctx.err(f"cmd: Can't find service: {service}\n")
        return 20
    if service == "package":
        return await cmd_package(ctx)
    command = CMD_SERVICES[service]
    if command and ctx.runner is not None:
        return await ctx.runner.run_argv(ctx, [command, *args[1:]])
    verb = args[1] if len(args) > 1 else ""
    await ctx.err(f"Unknown command: {verb}\n" if verb else f"{service} commands:\n  help\n")
    return 255


# -- app_process -------------------------------------------------------------------------------
#: Framework entry points the shell scripts of Android 9 start with app_process.
FRAMEWORK_MAINS = {
    "com.android.commands.am.Am": "am", "com.android.commands.pm.Pm": "pm", "com.android.commands.wm.Wm": "wm",
    "com.android.commands.input.Input": "input", "com.android.commands.monkey.Monkey": "monkey",
    "com.android.commands.svc.Svc": "svc", "com.android.commands.content.Content": "content",
}


@registry.command("app_process", "app_process64", "app_process32")
async def app_process(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    while args and args[0].startswith("-") and not args[0].startswith("--"):
        args = args[1:]  # VM options (-Xmx..., -Djava...)
    if not args:
        await ctx.err("Usage: app_process [java-options] cmd-dir start-class-name [options]\n")
        return 10
    args = args[1:]  # cmd-dir
    nice_name = "app_process"
    while args and args[0].startswith("--"):
        if args[0].startswith("--nice-name="):
            nice_name = args[0].split("=", 1)[1] or nice_name
        elif args[0] == "--zygote":
            await ctx.err("Error: the zygote cannot be started from a shell\n")
            return 10
        args = args[1:]
    if not args:
        await ctx.err("Error: no class name or --zygote supplied.\n")
        return 10
    class_name, main_args = args[0], args[1:]
    classpath = ctx.env.get("CLASSPATH", "")
    if class_name in FRAMEWORK_MAINS and ctx.runner is not None:
        return await ctx.runner.run_argv(ctx, [FRAMEWORK_MAINS[class_name], *main_args])
    main = registry.main_class(class_name)
    jars_ok = all(_readable(ctx, jar) for jar in classpath.split(":") if jar)
    if main is None or (main.jar_required and (not classpath or not jars_ok)):
        where = ",".join(f'zip file "{jar}"' for jar in classpath.split(":") if jar) or 'directory "."'
        await ctx.err(f"java.lang.ClassNotFoundException: Didn't find class \"{class_name}\" on path: "
                      f"DexPathList[[{where}],nativeLibraryDirectories=[/system/lib64, /system/vendor/lib64]]\n"
                      f"Error: Could not find class '{class_name}'\n")
        return 1
    system = ctx.system
    proc = system.processes.spawn(nice_name, ctx.uid)
    try:
        inner = CommandContext([class_name, *main_args], ctx.handset, ctx.io, ctx.root, ctx.uid, ctx.env, ctx.cwd,
                               ctx.runner)
        return await main.run(inner)
    finally:
        system.processes.kill(proc.pid)


def _readable(ctx: CommandContext, path: str) -> bool:
    full = ctx.path(path)
    try:
        access.check_read(full, ctx.uid)
        return not ctx.handset.fs.stat(full).is_dir
    except FsError:
        return False
