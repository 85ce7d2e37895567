"""`dumpsys SERVICE [args]` in Android 9's shapes for the services lab tools parse: battery,
power, display, window, activity, package, telephony.registry, iphonesubinfo. Other parts of
the lab add services with `register_dumper`."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable

from devicelab.virtual import activities, telephony
from devicelab.virtual.android import AndroidSystem
from devicelab.virtual.shell import registry
from devicelab.virtual.shell.io import CommandContext
from devicelab.virtual.ui import display

#: A dumper gets the system and its arguments and returns the text.
Dumper = Callable[[AndroidSystem, list[str]], str]
DUMPERS: dict[str, Dumper] = {}


def register_dumper(name: str, dumper: Dumper) -> None:
    DUMPERS[name] = dumper


def dumper(name: str) -> Callable[[Dumper], Dumper]:
    def decorate(fn: Dumper) -> Dumper:
        register_dumper(name, fn)
        return fn

    return decorate


def object_id(*parts: object) -> str:
    """A stable identity hash (what Java prints after `Window{`)."""
    return f"{zlib.crc32(repr(parts).encode()) & 0xFFFFFFF:x}"


def task_id(component: str) -> int:
    return 10 + zlib.crc32(component.partition("/")[0].encode()) % 90


@registry.command("dumpsys")
async def dumpsys(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    if args and args[0] == "-l":
        await ctx.out("Currently running services:\n" + "".join(f"  {n}\n" for n in sorted(DUMPERS)))
        return 0
    while args and args[0].startswith("-") and args[0] not in ("-a",):
        args = args[2:] if args[0] in ("-t", "-T", "--skip") else args[1:]
    if not args:
        for name in sorted(DUMPERS):
            await ctx.out("-" * 79 + f"\nDUMP OF SERVICE {name}:\n" + DUMPERS[name](ctx.system, []))
        return 0
    name = args[0]
    if name not in DUMPERS:
        await ctx.err(f"Can't find service: {name}\n")
        return 0
    await ctx.out(DUMPERS[name](ctx.system, args[1:]))
    return 0


@dumper("battery")
def _battery(system: AndroidSystem, args: list[str]) -> str:
    return ("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n  Wireless powered: false\n"
            "  Max charging current: 500000\n  Max charging voltage: 5000000\n  Charge counter: 2773740\n"
            "  status: 2\n  health: 2\n  present: true\n  level: 85\n  scale: 100\n  voltage: 4176\n"
            "  temperature: 280\n  technology: Li-ion\n")


@dumper("power")
def _power(system: AndroidSystem, args: list[str]) -> str:
    on = system.screen_on
    return ("POWER MANAGER (dumpsys power)\n\nPower Manager State:\n  mDirty=0x0\n"
            f"  mWakefulness={'Awake' if on else 'Asleep'}\n  mWakefulnessChanging=false\n  mIsPowered=true\n"
            "  mPlugType=2\n  mBatteryLevel=85\n  mStayOn=false\n  mProximityPositive=false\n"
            f"  mBootCompleted={str(system.getprop('sys.boot_completed') == '1').lower()}\n  mSystemReady=true\n"
            f"  mHoldingWakeLockSuspendBlocker=false\n  mHoldingDisplaySuspendBlocker={str(on).lower()}\n\n"
            f"Display Power: state={'ON' if on else 'OFF'}\n")


def _size(system: AndroidSystem) -> tuple[int, int]:
    width, height = system.size_override or (display.WIDTH, display.HEIGHT)
    return (height, width) if system.orientation % 2 else (width, height)


@dumper("display")
def _display(system: AndroidSystem, args: list[str]) -> str:
    width, height = _size(system)
    density = system.density_override or display.DENSITY_DPI
    state = "ON" if system.screen_on else "OFF"
    app_height = height - display.NAV_BAR_HEIGHT if system.orientation % 2 == 0 else height
    return (
        "DISPLAY MANAGER (dumpsys display)\n  mOnlyCode=false\n  mSafeMode=false\n  mPendingTraversal=false\n"
        f"  mGlobalDisplayState={state}\n  mNextNonDefaultDisplayId=1\n"
        f"  mDefaultViewport=DisplayViewport{{valid=true, displayId=0, uniqueId='local:0', "
        f"orientation={system.orientation}, logicalFrame=Rect(0, 0 - {width}, {height}), "
        f"physicalFrame=Rect(0, 0 - {width}, {height}), deviceWidth={width}, deviceHeight={height}}}\n"
        "  mExternalTouchViewport=DisplayViewport{valid=false, displayId=0, uniqueId='null', orientation=0, "
        "logicalFrame=Rect(0, 0 - 0, 0), physicalFrame=Rect(0, 0 - 0, 0), deviceWidth=0, deviceHeight=0}\n\n"
        "Display Adapters: size=1\n  LocalDisplayAdapter\n\nDisplay Devices: size=1\n"
        f"  DisplayDeviceInfo{{\"Built-in Screen\": uniqueId=\"local:0\", {display.WIDTH} x {display.HEIGHT}, "
        f"modeId 1, defaultModeId 1, supportedModes [{{id=1, width={display.WIDTH}, height={display.HEIGHT}, "
        f"fps=60.0}}], colorMode 0, supportedColorModes [0], density {density}, 403.411 x 403.041 dpi, "
        f"appVsyncOff 1000000, presDeadline 16666666, touch INTERNAL, rotation 0, type BUILT_IN, state {state}, "
        "FLAG_DEFAULT_DISPLAY, FLAG_ROTATES_WITH_CONTENT, FLAG_SECURE, FLAG_SUPPORTS_PROTECTED_BUFFERS}\n\n"
        "Logical Displays: size=1\n  Display 0:\n    mDisplayId=0\n    mLayerStack=0\n"
        f"    mBaseDisplayInfo=DisplayInfo{{\"Built-in Screen\", uniqueId \"local:0\", app {width} x {app_height}, "
        f"real {width} x {height}, largest app {height} x {height}, smallest app {min(width, height)} x "
        f"{min(width, height) - 63}, mode 1, defaultMode 1, rotation {system.orientation}, density {density} "
        f"(403.411 x 403.041) dpi, layerStack 0, appVsyncOff 1000000, presDeadline 16666666, type BUILT_IN, "
        f"state {state}, FLAG_SECURE, FLAG_SUPPORTS_PROTECTED_BUFFERS, removeMode 0}}\n"
    )


def _window_line(component: str) -> str:
    full = activities.full_component(component)
    return f"Window{{{object_id('window', full)} u0 {full}}}"


def _record(component: str) -> str:
    short = activities.short_component(component)
    return f"ActivityRecord{{{object_id('record', short)} u0 {short} t{task_id(short)}}}"


@dumper("window")
def _window(system: AndroidSystem, args: list[str]) -> str:
    focus = system.focused_activity
    package = focus.partition("/")[0]
    pkg = system.package(package)
    width, height = _size(system)
    windows = [
        ("NavigationBar", "com.android.systemui", 10023),
        ("StatusBar", "com.android.systemui", 10023),
        (activities.full_component(focus), package, pkg.uid if pkg else 1000),
    ]
    lines = ["WINDOW MANAGER WINDOWS (dumpsys window windows)"]
    for index, (title, owner, uid) in enumerate(windows):
        lines += [
            f"  Window #{index} Window{{{object_id('window', title)} u0 {title}}}:",
            f"    mDisplayId=0 stackId={1 if index == 2 else 0} mSession=Session{{{object_id('session', owner)} "
            f"{uid}:u0a{uid % 10000}}} mClient=android.os.BinderProxy@{object_id('client', title)}",
            f"    mOwnerUid={uid} mShowToOwnerOnly={str(index == 2).lower()} package={owner} appop=NONE",
            f"    mHasSurface={str(system.screen_on).lower()} isReadyForDisplay()={str(system.screen_on).lower()}",
        ]
    lines += [
        "",
        f"  mGlobalConfiguration={{1.0 ?mcc?mnc [en_US] ldltr sw411dp w411dp h773dp 420dpi nrml long "
        f"{'land' if system.orientation % 2 else 'port'} finger -keyb/v/h -nav/h winConfig={{ mBounds=Rect(0, 0 - "
        f"{width}, {height}) mAppBounds=Rect(0, 63 - {width}, {height - display.NAV_BAR_HEIGHT}) "
        "mWindowingMode=fullscreen mActivityType=undefined} s.6}",
        "  mHasPermanentDpad=false",
        f"  mCurrentFocus={_window_line(focus)}",
        f"  mFocusedApp=AppWindowToken{{{object_id('token', focus)} token=Token{{{object_id('tok', focus)} "
        f"{_record(focus)}}}}}",
        "  mInTouchMode=true",
        "  mLastDisplayFreezeDuration=0 due to new-config",
        f"  mRotation={system.orientation} mAltOrientation=false",
    ]
    return "\n".join(lines) + "\n"


@dumper("activity")
def _activity(system: AndroidSystem, args: list[str]) -> str:
    focus = activities.short_component(system.focused_activity)
    package = focus.partition("/")[0]
    procs = system.processes.by_name(package)
    pid = procs[0].pid if procs else 0
    if args and args[0] == "top":
        return (f"TASK {package} id={task_id(focus)} userId=0\n"
                f"  ACTIVITY {focus} {object_id('record', focus)} pid={pid}\n")
    if args and args[0] in ("processes", "p"):
        lines = ["ACTIVITY MANAGER RUNNING PROCESSES (dumpsys activity processes)"]
        lines += [f"  *APP* UID {p.uid} ProcessRecord{{{object_id('proc', p.pid)} {p.pid}:{p.name}/u0a{p.uid % 10000}}}"
                  for p in system.processes.all() if p.uid >= 10000 or p.name == "system_server"]
        return "\n".join(lines) + "\n"
    record = _record(focus)
    return (
        "ACTIVITY MANAGER ACTIVITIES (dumpsys activity activities)\nDisplay #0 (activities from top to bottom):\n"
        "  Stack #1: type=standard mode=fullscreen\n"
        f"    * TaskRecord{{{object_id('task', package)} #{task_id(focus)} A={package} U=0 StackId=1 sz=1}}\n"
        f"      * Hist #0: {record}\n"
        f"    mResumedActivity: {record}\n\n"
        f"  ResumedActivity: {record}\n  mFocusedStack=ActivityStack{{{object_id('stack')} stackId=1 type=standard "
        "mode=fullscreen visible=true translucent=false, 1 tasks}\n"
    )


@dumper("package")
def _package(system: AndroidSystem, args: list[str]) -> str:
    names = [a for a in args if not a.startswith("-")]
    lines = ["Activity Resolver Table:", "  Non-Data Actions:", ""]
    for name in names[:1]:
        pkg = system.package(name)
        if pkg is None:
            continue
        stamp = dt.datetime.fromtimestamp(system.clock.epoch).strftime("%Y-%m-%d %H:%M:%S")
        folder = pkg.path.rsplit("/", 1)[0]
        flags = "[ SYSTEM HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]" if pkg.system else \
            "[ HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]"
        state = system.package_state(name)
        enabled = {"enabled": 0, "disabled": 2, "disabled-user": 3}.get(state, 0)
        lines += [
            "Packages:",
            f"  Package [{name}] ({object_id('pkg', name)}):",
            f"    userId={pkg.uid}",
            f"    pkg=Package{{{object_id('package', name)} {name}}}",
            f"    codePath={folder}",
            f"    resourcePath={folder}",
            f"    legacyNativeLibraryDir={folder}/lib",
            "    primaryCpuAbi=arm64-v8a",
            "    secondaryCpuAbi=null",
            f"    versionCode={pkg.version_code} minSdk=28 targetSdk=28",
            f"    versionName={'9' if pkg.system else '1.0'}",
            "    splits=[base]",
            "    apkSigningVersion=2",
            f"    applicationInfo=ApplicationInfo{{{object_id('app', name)} {name}}}",
            f"    flags={flags}",
            f"    dataDir=/data/user/0/{name}",
            f"    timeStamp={stamp}",
            f"    firstInstallTime={stamp}",
            f"    lastUpdateTime={stamp}",
            f"    signatures=PackageSignatures{{{object_id('sig', name)} version:2, signatures:[{object_id('cert')}],"
            " past signatures:[]}",
            "    installPermissionsFixed=true",
            f"    pkgFlags={flags}",
            "    requested permissions:",
            "      android.permission.INTERNET",
            "      android.permission.READ_PHONE_STATE",
            "    install permissions:",
            "      android.permission.INTERNET: granted=true",
            "    User 0: ceDataInode=0 installed="
            f"{str(state != 'uninstalled').lower()} hidden=false suspended=false stopped=false notLaunched=false "
            f"enabled={enabled} instant=false virtual=false",
            "      runtime permissions:",
            "        android.permission.READ_PHONE_STATE: granted=true",
        ]
    return "\n".join(lines) + "\n"


register_dumper("telephony.registry", lambda system, args: telephony.registry_dump(system))
# PhoneSubInfoController has no dump(): on Android 5+ `dumpsys iphonesubinfo` prints nothing.
register_dumper("iphonesubinfo", lambda system, args: "")
