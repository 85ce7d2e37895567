"""`am start|force-stop|kill|broadcast|startservice` and `monkey -p PKG ... N` (Android 9's
ActivityManagerShellCommand and Monkey output)."""

from __future__ import annotations

import asyncio
import zlib

from devicelab.virtual import activities
from devicelab.virtual.android import AndroidSystem
from devicelab.virtual.events import Intent
from devicelab.virtual.net import browser
from devicelab.virtual.shell import registry
from devicelab.virtual.shell.io import CommandContext

FLAG_ACTIVITY_NEW_TASK = 0x10000000
FLAG_RECEIVER_FROM_SHELL = 0x400000
#: intent options that take one value (`--es` and friends take two)
ONE_VALUE = {"-a", "-d", "-t", "-c", "-n", "-p", "-f", "--user", "-P", "--sampling", "-R", "--task", "--stack",
             "--display", "--windowingMode", "--activityType", "--receiver-permission", "--esn"}
TWO_VALUES = {"--es", "--ez", "--ei", "--el", "--ef", "--eu", "--eia", "--eial", "--ela", "--elal", "--efa",
              "--efal", "--esa", "--esal", "--ecn"}


class IntentError(ValueError):
    """`am` cannot build the intent from its arguments."""


def parse_intent(args: list[str]) -> tuple[Intent, set[str]]:
    """An Intent from `am`'s arguments (Intent.parseCommandArgs), and the bare flags (-W, -S)."""
    action = data = mime = component = package = ""
    categories: list[str] = []
    extras: list[tuple[str, str]] = []
    flags = 0
    switches: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in TWO_VALUES:
            if i + 2 >= len(args):
                raise IntentError(f"Argument expected after \"{arg}\"")
            extras.append((args[i + 1], args[i + 2]))
            i += 3
            continue
        if arg in ONE_VALUE:
            if i + 1 >= len(args):
                raise IntentError(f"Argument expected after \"{arg}\"")
            value = args[i + 1]
            if arg == "-a":
                action = value
            elif arg == "-d":
                data = value
            elif arg == "-t":
                mime = value
            elif arg == "-c":
                categories.append(value)
            elif arg == "-n":
                component = value
            elif arg == "-p":
                package = value
            elif arg == "-f":
                try:
                    flags |= int(value, 0)
                except ValueError:
                    raise IntentError(f"Invalid flags: {value}") from None
            i += 2
            continue
        if arg.startswith("-"):
            switches.add(arg)
        elif ":" in arg:
            data = arg
        elif "/" in arg:
            component = arg
        else:
            package = arg
        i += 1
    if component and "/" not in component:
        raise IntentError(f"Bad component name: {component}")
    return Intent(action, data, mime, tuple(categories), component, package, flags, tuple(extras)), switches


def resolve_activity(system: AndroidSystem, intent: Intent) -> str | None:
    """The activity an intent starts on the virtual system, or None."""
    if intent.component:
        package = intent.component.partition("/")[0]
        return intent.component if system.installed(package) and system.package_state(package) == "enabled" \
            else None
    if intent.package:
        return system.launcher_activity(intent.package)
    if intent.action == "android.intent.action.MAIN" and "android.intent.category.HOME" in intent.categories:
        return system.home_activity()
    if intent.action == "android.settings.SETTINGS":
        return system.launcher_activity("com.android.settings")
    if intent.action == "android.intent.action.VIEW" and intent.data.startswith(("http://", "https://")):
        return browser.browser_component(system)
    return None


async def _start(ctx: CommandContext, args: list[str]) -> int:
    intent, switches = parse_intent(args)
    system = ctx.system
    await ctx.out(f"Starting: {intent}\n")
    target = resolve_activity(system, intent)
    if target is None:
        if intent.component:
            full = activities.full_component(intent.component)
            await ctx.err(f"Error type 3\nError: Activity class {{{full}}} does not exist.\n")
        else:
            shown = Intent(intent.action, intent.data, intent.mime_type, intent.categories, intent.component,
                           intent.package, intent.flags | FLAG_ACTIVITY_NEW_TASK, intent.extras)
            await ctx.err(f"Error: Activity not started, unable to resolve {shown}\n")
        return 255
    package = target.partition("/")[0]
    if "-S" in switches:
        system.force_stop(package)
    if intent.action == "android.intent.action.VIEW" and browser.first_run_pending(system, target):
        # Chrome's first run comes first: the URL waits behind "Welcome to Chrome"
        started = system.start_activity(f"{package}/{browser.FIRST_RUN}", intent)
        pkg = system.package(package)
        pid = system.processes.ensure(package, pkg.uid if pkg is not None else 10080).pid
        system.logcat.write("cr_FirstRun", f"Showing the first run experience before {intent.data}", pid=pid)
        return 0
    started = system.start_activity(target, intent)
    if intent.action == "android.intent.action.VIEW" and intent.data.startswith(("http://", "https://")):
        browser.open_url(ctx.handset, intent.data)
    if "-W" in switches:
        this_time = 200 + zlib.crc32(started.encode()) % 400
        await ctx.out(f"Status: ok\nActivity: {started}\nThisTime: {this_time}\nTotalTime: {this_time}\n"
                      f"WaitTime: {this_time + 31}\nComplete\n")
    return 0


#: protected broadcasts that wipe the phone (MASTER_CLEAR is the deprecated name)
FACTORY_RESET = ("android.intent.action.FACTORY_RESET", "android.intent.action.MASTER_CLEAR")
#: framework shutdown before RecoverySystem reboots into recovery with --wipe_data
FACTORY_RESET_DELAY = 0.3


async def _factory_reset(ctx: CommandContext, intent: Intent) -> int:
    """Only a system uid (root included) may send it; since Android 8 the receiver, android's
    MasterClearReceiver, gets it only when the broadcast names package `android`."""
    system = ctx.system
    if ctx.uid not in (0, 1000):
        denial = (f"Permission Denial: not allowed to send broadcast {intent.action} from pid="
                  f"{4000 + zlib.crc32(ctx.argv[-1].encode()) % 20000}, uid={ctx.uid}")
        await ctx.err(f"Security exception: {denial}\n\njava.lang.SecurityException: {denial}\n"
                      "\tat com.android.server.am.ActivityManagerService.broadcastIntentLocked"
                      "(ActivityManagerService.java:21042)\n")
        return 255
    if intent.package != "android" and not (intent.component or "").startswith("android/"):
        system.logcat.write("BroadcastQueue", f"Background execution not allowed: receiving {intent} to "
                            "android/com.android.server.MasterClearReceiver", level="W",
                            pid=system.system_server_pid())
        await ctx.out("Broadcast completed: result=0\n")
        return 0
    system.logcat.write("MasterClear", "!!! FACTORY RESET !!!", level="W", pid=system.system_server_pid())
    await ctx.out("Broadcast completed: result=0\n")
    handset = ctx.handset
    # RecoverySystem.rebootWipeUserData: the bootloader message, then a reboot into recovery
    handset.recovery.request("--wipe_data", "--reason=MasterClearConfirm", "--locale=en_US")
    asyncio.get_running_loop().call_later(FACTORY_RESET_DELAY, handset.reboot, "recovery")
    return 0


async def _broadcast(ctx: CommandContext, args: list[str]) -> int:
    intent, _switches = parse_intent(args)
    intent = Intent(intent.action, intent.data, intent.mime_type, intent.categories, intent.component,
                    intent.package, intent.flags | FLAG_RECEIVER_FROM_SHELL, intent.extras)
    await ctx.out(f"Broadcasting: {intent}\n")
    system = ctx.system
    if intent.action in FACTORY_RESET:
        return await _factory_reset(ctx, intent)
    handled = system.broadcasts.publish(intent)
    await ctx.out('Broadcast completed: result=-1, data="success"\n' if handled else "Broadcast completed: result=0\n")
    return 0


@registry.command("am")
async def am(ctx: CommandContext) -> int:
    if len(ctx.argv) < 2:
        await ctx.err("Activity manager (activity) commands:\n  help\n  start [options] INTENT\n"
                      "  force-stop PACKAGE\n  broadcast [options] INTENT\n")
        return 255
    verb, args = ctx.argv[1], ctx.argv[2:]
    system = ctx.system
    try:
        if verb in ("start", "start-activity"):
            return await _start(ctx, args)
        if verb in ("broadcast",):
            return await _broadcast(ctx, args)
        if verb in ("startservice", "start-service", "startforegroundservice", "start-foreground-service"):
            intent, _ = parse_intent(args)
            await ctx.out(f"Starting service: {intent}\n")
            if intent.component and system.package(intent.component.partition("/")[0]) is None:
                await ctx.err("Error: Not found; no service started.\n")
                return 255
            return 0
    except ValueError as exc:
        await ctx.err(f"Error: {exc}\n")
        return 255
    if verb in ("force-stop", "kill"):
        packages = [a for a in args if not a.startswith("-")]
        if verb == "kill" and "--user" in args:
            packages = packages[1:]
        for package in packages:
            if verb == "force-stop":
                system.force_stop(package)
            else:
                system.processes.kill_package(package)
        return 0
    if verb == "set-debug-app":
        packages = [a for a in args if not a.startswith("-")]
        if len(packages) != 1:
            await ctx.err("Error: set-debug-app needs one package\n")
            return 255
        system.settings("global")["debug_app"] = packages[0]
        system.settings("global")["wait_for_debugger"] = "1" if "-w" in args else "0"
        return 0
    if verb == "clear-debug-app":
        system.settings("global").pop("debug_app", None)
        system.settings("global").pop("wait_for_debugger", None)
        return 0
    if verb == "get-current-user":
        await ctx.out("0\n")
        return 0
    if verb == "kill-all":
        return 0
    await ctx.err(f"Unknown command: {verb}\n")
    return 255


@registry.command("monkey")
async def monkey(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    await ctx.out("".join(f"  bash arg: {a}\n" for a in args))
    packages: list[str] = []
    categories: list[str] = []
    count = 0
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-p", "-c") and i + 1 < len(args):
            (packages if arg == "-p" else categories).append(args[i + 1])
            i += 2
            continue
        if arg in ("-s", "--throttle", "--seed") or arg.startswith("--pct-"):
            i += 2
            continue
        if not arg.startswith("-"):
            try:
                count = int(arg)
            except ValueError:
                await ctx.err(f"** Error: Invalid argument: {arg}\n")
                return 1
        i += 1
    await ctx.out(f"args: [{', '.join(args)}]\n" + "".join(f' arg: "{a}"\n' for a in args))
    await ctx.out("".join(f'data="{p}"\n' for p in packages) + "".join(f'data="{c}"\n' for c in categories))
    system = ctx.system
    targets = [t for p in packages if (t := system.launcher_activity(p)) is not None]
    if not targets:
        await ctx.err("** No activities found to run, monkey aborted.\n")
        return 252
    if count > 0:
        system.start_activity(targets[0])
    await ctx.out(f"Events injected: {count}\n## Network stats: elapsed time=18ms (0ms mobile, 0ms wifi, "
                  "18ms not connected)\n")
    return 0
