"""`pm` (and `cmd package`): list, path, clear, enable/disable, uninstall, install, grant."""

from __future__ import annotations

import asyncio
import posixpath

from devicelab.model.builds import Package
from devicelab.virtual import apk
from devicelab.virtual.android import AndroidSystem
from devicelab.virtual.fs import FsError
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.io import CommandContext

FIRST_USER_UID = 10100
STDIN_WAIT = 60.0  # seconds `pm install -S` waits for the APK to stream in

FEATURES = (
    "android.hardware.bluetooth", "android.hardware.bluetooth_le", "android.hardware.camera",
    "android.hardware.camera.autofocus", "android.hardware.camera.flash", "android.hardware.camera.front",
    "android.hardware.faketouch", "android.hardware.fingerprint", "android.hardware.location",
    "android.hardware.location.gps", "android.hardware.location.network", "android.hardware.nfc",
    "android.hardware.screen.landscape", "android.hardware.screen.portrait", "android.hardware.sensor.accelerometer",
    "android.hardware.telephony", "android.hardware.telephony.gsm", "android.hardware.touchscreen",
    "android.hardware.usb.accessory", "android.hardware.usb.host", "android.hardware.wifi",
    "android.hardware.wifi.direct", "android.software.webview", "com.google.android.feature.ANDROID_ONE_EXPERIENCE",
)


async def _exception(ctx: CommandContext, kind: str, message: str) -> int:
    """How a failing PackageManagerShellCommand ends: the Java exception on stderr, exit 255."""
    await ctx.err(f"Exception occurred while executing:\njava.lang.{kind}: {message}\n"
                  "\tat com.android.server.pm.PackageManagerShellCommand.onCommand(PackageManagerShellCommand.java)\n")
    return 255


def _operands(args: list[str], with_value: tuple[str, ...] = ("--user",)) -> tuple[set[str], list[str]]:
    flags: set[str] = set()
    operands: list[str] = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
        elif arg in with_value:
            skip = index + 1 < len(args)
        elif arg.startswith("-") and len(arg) > 1:
            flags.add(arg)
        else:
            operands.append(arg)
    return flags, operands


async def _list_packages(ctx: CommandContext, args: list[str]) -> int:
    flags, operands = _operands(args)
    system = ctx.system
    wanted = operands[0] if operands else ""
    lines = []
    for pkg in sorted(system.packages, key=lambda p: p.name):
        state = system.package_state(pkg.name)
        if state == "uninstalled" and "-u" not in flags:
            continue
        enabled = state == "enabled"
        if ("-d" in flags and enabled) or ("-e" in flags and not enabled):
            continue
        if ("-s" in flags and not pkg.system) or ("-3" in flags and pkg.system):
            continue
        if wanted not in pkg.name:
            continue
        line = "package:" + (f"{pkg.path}=" if "-f" in flags else "") + pkg.name
        if "--show-versioncode" in flags:
            line += f" versionCode:{pkg.version_code}"
        if "-i" in flags:
            line += "  installer=" + ("null" if pkg.system else "com.android.shell")
        if "-U" in flags:
            line += f" uid:{pkg.uid}"
        lines.append(line + "\n")
    await ctx.out("".join(lines))
    return 0


async def _list(ctx: CommandContext, args: list[str]) -> int:
    what = args[0] if args else ""
    if what in ("packages", "package"):
        return await _list_packages(ctx, args[1:])
    if what == "users":
        await ctx.out("Users:\n\tUserInfo{0:Owner:13} running\n")
        return 0
    if what == "features":
        await ctx.out("".join(f"feature:{f}\n" for f in ("reqGlEsVersion=0x30002", *FEATURES)))
        return 0
    if what == "libraries":
        await ctx.out("library:android.test.runner\nlibrary:javax.obex\nlibrary:org.apache.http.legacy\n")
        return 0
    await ctx.err(f"Error: unknown list type '{what}'\n")
    return 255


def _known(system: AndroidSystem, name: str) -> Package | None:
    return system.package(name)


async def _set_state(ctx: CommandContext, verb: str, args: list[str]) -> int:
    _flags, operands = _operands(args)
    if not operands:
        await ctx.err("Error: no package or component specified\n")
        return 255
    name = operands[0].partition("/")[0]
    system = ctx.system
    if _known(system, name) is None:
        return await _exception(ctx, "IllegalArgumentException", f"Unknown package: {name}")
    state = {"enable": "enabled", "disable": "disabled", "disable-user": "disabled-user",
             "default-state": "enabled"}[verb]
    if verb == "disable" and not ctx.root:
        return await _exception(ctx, "SecurityException", f"Shell cannot change component state for {name} to 2")
    if state == "enabled":
        system.userdata.package_states.pop(name, None)
    else:
        system.userdata.package_states[name] = state
        system.force_stop(name)
    await ctx.out(f"Package {name} new state: {state}\n")
    return 0


async def _uninstall(ctx: CommandContext, args: list[str]) -> int:
    _flags, operands = _operands(args)
    system = ctx.system
    if not operands:
        await ctx.err("Error: package name not specified\n")
        return 1
    name = operands[0]
    pkg = system.package(name)
    for_user = "--user" in args
    if pkg is None or system.package_state(name) == "uninstalled":
        await ctx.out("Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
        return 1
    system.force_stop(name)
    if pkg.system:
        if not for_user:
            await ctx.out("Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
            return 1
        system.userdata.package_states[name] = "uninstalled"
    else:
        system.userdata.user_packages = [p for p in system.userdata.user_packages if p.name != name]
        system.userdata.package_states.pop(name, None)
        folder = posixpath.dirname(pkg.path)
        if ctx.handset.fs.exists(folder):
            ctx.handset.fs.remove(folder, recursive=True)
    await ctx.out("Success\n")
    return 0


async def install_apk(ctx: CommandContext, data: bytes) -> int:
    """Install APK bytes (from a file or stdin) for user 0; prints `Success` or a Failure."""
    name = apk.package_name(data)
    if name is None:
        await ctx.out("Failure [INSTALL_PARSE_FAILED_NOT_APK: Failed to parse: not an APK]\n")
        return 1
    system = ctx.system
    existing = system.package(name)
    if existing is not None and existing.system:
        system.userdata.package_states.pop(name, None)
        await ctx.out("Success\n")
        return 0
    uid = existing.uid if existing else max([FIRST_USER_UID - 1, *(p.uid for p in system.userdata.user_packages)]) + 1
    path = f"/data/app/{name}-1/base.apk"
    try:
        package = Package(name=name, path=path, uid=uid, system=False)
    except ValueError:
        await ctx.out(f"Failure [INSTALL_PARSE_FAILED_BAD_PACKAGE_NAME: Invalid package name {name}]\n")
        return 1
    ctx.handset.fs.write(path, data, make_parents=True)
    system.userdata.user_packages = [p for p in system.userdata.user_packages if p.name != name] + [package]
    system.userdata.package_states.pop(name, None)
    system.logcat.write("PackageManager", f"Package {name} codePath changed to {posixpath.dirname(path)}")
    await ctx.out("Success\n")
    return 0


async def _streamed_apk(ctx: CommandContext, args: list[str]) -> bytes:
    """`install -S SIZE`: the APK arrives on stdin; wait (bounded) until SIZE bytes are in."""
    index = args.index("-S") if "-S" in args else -1
    size = int(args[index + 1]) if 0 <= index < len(args) - 1 and args[index + 1].isdecimal() else 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STDIN_WAIT
    while len(ctx.io.stdin) < size and not ctx.io.closed.is_set() and loop.time() < deadline:
        await asyncio.sleep(0.01)
    return ctx.io.stdin[:size] if size else ctx.io.stdin


async def _install(ctx: CommandContext, args: list[str]) -> int:
    _flags, operands = _operands(args, ("--user", "-S", "-i", "--install-location", "--originating-uri",
                                        "--referrer", "-p", "--abi"))
    if "-S" in args or not operands:
        return await install_apk(ctx, await _streamed_apk(ctx, args))
    path = ctx.path(operands[-1])
    try:
        access.check_read(path, ctx.uid)
        data = ctx.handset.fs.read(path)
    except FsError:
        await ctx.err(f"Error: Unable to open file: {operands[-1]}\nConsider using a file under /data/local/tmp/\n"
                      f"Error: Can't open file: {operands[-1]}\n")
        return 1
    return await install_apk(ctx, data)


async def _grant(ctx: CommandContext, verb: str, args: list[str]) -> int:
    _flags, operands = _operands(args)
    if len(operands) < 2:
        await ctx.err(f"Error: no {'package' if not operands else 'permission'} specified\n")
        return 255
    if ctx.system.package(operands[0]) is None:
        return await _exception(ctx, "IllegalArgumentException", f"Unknown package: {operands[0]}")
    if "." not in operands[1]:
        return await _exception(ctx, "IllegalArgumentException", f"Unknown permission: {operands[1]}")
    return 0


@registry.command("pm")
async def pm(ctx: CommandContext) -> int:
    if len(ctx.argv) < 2:
        await ctx.err("usage: pm path [--user USER_ID] PACKAGE\n       pm list packages [-f] [-d] [-e] [-s] [-3] "
                      "[-i] [-l] [-u] [-U] [--uid UID] [--user USER_ID] [FILTER]\n")
        return 1
    verb, args = ctx.argv[1], ctx.argv[2:]
    system = ctx.system
    if verb == "list":
        return await _list(ctx, args)
    if verb == "path":
        _flags, operands = _operands(args)
        pkg = system.installed(operands[0]) if operands else None
        if pkg is None:
            return 1
        await ctx.out(f"package:{pkg.path}\n")
        return 0
    if verb == "clear":
        _flags, operands = _operands(args)
        if not operands or system.package(operands[0]) is None:
            await ctx.out("Failed\n")
            return 1
        system.force_stop(operands[0])
        await ctx.out("Success\n")
        return 0
    if verb in ("enable", "disable", "disable-user", "default-state"):
        return await _set_state(ctx, verb, args)
    if verb == "uninstall":
        return await _uninstall(ctx, args)
    if verb == "install":
        return await _install(ctx, args)
    if verb in ("grant", "revoke"):
        return await _grant(ctx, verb, args)
    if verb == "dump" and args and ctx.runner is not None:
        return await ctx.runner.run_argv(ctx, ["dumpsys", "package", args[0]])
    await ctx.err(f"Unknown command: {verb}\n")
    return 255


async def cmd_package(ctx: CommandContext) -> int:
    """`cmd package ...` is the same shell command as `pm ...`."""
    return await pm(CommandContext(["pm", *ctx.argv[2:]], ctx.handset, ctx.io, ctx.root, ctx.uid, ctx.env, ctx.cwd,
                                   ctx.runner))
