"""`settings get|put|delete|list|reset` (Android 9's SettingsService shell command)."""

from __future__ import annotations

from devicelab.virtual.android import SETTINGS_NAMESPACES, AndroidSystem
from devicelab.virtual.shell import registry
from devicelab.virtual.shell.io import CommandContext

USAGE = """Settings provider (settings) commands:
  help
      Print this help text.
  get [--user <USER_ID> | current] NAMESPACE KEY
      Retrieve the current value of KEY.
  put [--user <USER_ID> | current] NAMESPACE KEY VALUE [TAG] [default]
      Change the contents of KEY to VALUE.
  delete NAMESPACE KEY
      Delete the entry for KEY.
  reset [--user <USER_ID> | current] NAMESPACE {PACKAGE_NAME | RESET_MODE}
      Reset the global/secure table for a package with mode.
  list NAMESPACE
      Print all defined keys.
      NAMESPACE is one of {system, secure, global}, case-insensitive
"""


def apply_side_effects(system: AndroidSystem, namespace: str, key: str, value: str | None) -> None:
    """Settings that the running system reacts to at once."""
    if namespace != "global":
        return
    if key == "wifi_on":
        system.radio.wifi_enabled = value not in (None, "0")
        if not system.radio.wifi_enabled:
            system.radio.wifi_connected = False
    elif key == "mobile_data":
        system.radio.mobile_data = value not in (None, "0")


@registry.command("settings")
async def settings(ctx: CommandContext) -> int:
    args = [a for a in ctx.argv[1:]]
    # --user N / --user current may come before or after the verb
    cleaned: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == "--user" and i + 1 < len(args):
            if args[i + 1] not in ("0", "current", "cur", "all"):
                await ctx.err(f"Invalid user: {args[i + 1]}\n")
                return 255
            i += 2
            continue
        cleaned.append(args[i])
        i += 1
    if not cleaned or cleaned[0] in ("help", "-h"):
        await (ctx.out if cleaned else ctx.err)(USAGE)
        return 0 if cleaned else 255
    verb, rest = cleaned[0], cleaned[1:]
    needed = {"get": 2, "put": 3, "delete": 2, "list": 1, "reset": 2}
    if verb not in needed or len(rest) < needed[verb] or rest[0].lower() not in SETTINGS_NAMESPACES:
        await ctx.err(USAGE)
        return 255
    namespace = rest[0].lower()
    table = ctx.system.settings(namespace)
    if verb == "get":
        value = table.get(rest[1])
        await ctx.out(("null" if value is None else value) + "\n")
    elif verb == "put":
        table[rest[1]] = rest[2]
        apply_side_effects(ctx.system, namespace, rest[1], rest[2])
    elif verb == "delete":
        removed = table.pop(rest[1], None) is not None
        apply_side_effects(ctx.system, namespace, rest[1], None)
        await ctx.out(f"Deleted {int(removed)} rows\n")
    elif verb == "list":
        await ctx.out("".join(f"{key}={table[key]}\n" for key in sorted(table)))
    return 0
