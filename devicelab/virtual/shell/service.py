"""`service list|check|call` (frameworks/native/cmds/service) against the virtual system's
binder services. Only iphonesubinfo answers transactions; the others are listed."""

from __future__ import annotations

import struct
from collections.abc import Callable

from devicelab.android import iphonesubinfo
from devicelab.virtual import telephony
from devicelab.virtual.android import AndroidSystem
from devicelab.virtual.binder import Parcel, format_parcel
from devicelab.virtual.shell import registry
from devicelab.virtual.shell.io import CommandContext

INTERFACE_TRANSACTION = 0x5F4E5446  # '_NTF'

#: Android 9 services a Nokia 7 plus registers (a subset), with their interface descriptors.
SERVICES: dict[str, str] = {
    "activity": "android.app.IActivityManager",
    "alarm": "android.app.IAlarmManager",
    "appops": "com.android.internal.app.IAppOpsService",
    "audio": "android.media.IAudioService",
    "battery": "",
    "batteryproperties": "android.os.IBatteryPropertiesRegistrar",
    "bluetooth_manager": "android.bluetooth.IBluetoothManager",
    "clipboard": "android.content.IClipboard",
    "connectivity": "android.net.IConnectivityManager",
    "display": "android.hardware.display.IDisplayManager",
    "input": "android.hardware.input.IInputManager",
    "input_method": "com.android.internal.view.IInputMethodManager",
    "iphonesubinfo": iphonesubinfo.INTERFACE,
    "isub": "com.android.internal.telephony.ISub",
    "location": "android.location.ILocationManager",
    "netstats": "android.net.INetworkStatsService",
    "notification": "android.app.INotificationManager",
    "package": "android.content.pm.IPackageManager",
    "phone": "com.android.internal.telephony.ITelephony",
    "power": "android.os.IPowerManager",
    "settings": "",
    "statusbar": "com.android.internal.statusbar.IStatusBarService",
    "telephony.registry": "com.android.internal.telephony.ITelephonyRegistry",
    "user": "android.os.IUserManager",
    "wifi": "android.net.wifi.IWifiManager",
    "window": "android.view.IWindowManager",
}

Transact = Callable[[AndroidSystem, int, list[int], int], "bytes | None"]
HANDLERS: dict[str, Transact] = {"iphonesubinfo": telephony.phonesubinfo_transact}

USAGE = """usage: service [-h|-?]
       service list
       service check SERVICE
       service call SERVICE CODE [i32 N | i64 N | f N | d N | s16 STR ] ...
Options:
   i32: Write the 32-bit integer N into the send parcel.
   i64: Write the 64-bit integer N into the send parcel.
   f:   Write the 32-bit single-precision number N into the send parcel.
   d:   Write the 64-bit double-precision number N into the send parcel.
   s16: Write the UTF-16 string STR into the send parcel.
"""


def _atoi(text: str) -> int:
    """C's atoi: leading digits, 0 when there are none."""
    digits = ""
    for index, ch in enumerate(text.strip()):
        if ch.isdecimal() or (index == 0 and ch in "+-"):
            digits += ch
        else:
            break
    try:
        return int(struct.unpack("<i", struct.pack("<I", int(digits) & 0xFFFFFFFF))[0])
    except ValueError:
        return 0


@registry.command("service")
async def service(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    if not args or args[0] in ("-h", "-?"):
        await ctx.err(USAGE)
        return 0 if args else 20
    verb = args[0]
    if verb == "list":
        names = sorted(SERVICES)
        await ctx.out(f"Found {len(names)} services:\n" +
                      "".join(f"{i}\t{name}: [{SERVICES[name]}]\n" for i, name in enumerate(names)))
        return 0
    if verb == "check" and len(args) > 1:
        found = "found" if args[1] in SERVICES else "not found"
        await ctx.out(f"Service {args[1]}: {found}\n")
        return 0
    if verb != "call":
        await ctx.err(f"service: Unknown command {verb}\n{USAGE}")
        return 10
    if len(args) < 3:
        await ctx.err(("service: No code specified\n" if len(args) == 2 else "service: No service specified\n")
                      + USAGE)
        return 10
    name, code = args[1], _atoi(args[2])
    if name not in SERVICES or not SERVICES[name]:
        await ctx.err(f"service: Service {name} does not exist\n")
        return 10
    ints: list[int] = []
    rest = args[3:]
    while rest:
        kind = rest[0]
        if kind == "null":
            rest = rest[1:]
            continue
        if kind not in ("i32", "i64", "f", "d", "s16") or len(rest) < 2:
            problem = f"no value supplied for '{kind}'" if kind in ("i32", "i64", "f", "d", "s16") else \
                f"unknown option {kind}"
            await ctx.err(f"service: {problem}\n{USAGE}")
            return 10
        if kind in ("i32", "i64"):
            ints.append(_atoi(rest[1]))
        rest = rest[2:]
    if code == INTERFACE_TRANSACTION:
        reply: bytes | None = bytes(Parcel().write_string16(SERVICES[name]).data)
    else:
        handler = HANDLERS.get(name)
        reply = handler(ctx.system, code, ints, ctx.uid) if handler else None
    await ctx.out(format_parcel(reply or b"") + "\n")
    return 0
