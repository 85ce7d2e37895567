"""`input text|keyevent|tap|swipe|draganddrop|press|roll`: injected events are recorded on the
system (`system.input`), where the UI model reacts to them."""

from __future__ import annotations

import asyncio

from devicelab.virtual.events import InputEvent, keycode
from devicelab.virtual.shell import registry
from devicelab.virtual.shell.io import CommandContext

SOURCES = ("dpad", "keyboard", "mouse", "touchpad", "gamepad", "touchnavigation", "joystick", "touchscreen",
           "stylus", "trackball")
MAX_GESTURE_SECONDS = 5.0

USAGE = """Usage: input [<source>] <command> [<arg>...]

The sources are:
      dpad
      keyboard
      mouse
      touchpad
      gamepad
      touchnavigation
      joystick
      touchscreen
      stylus
      trackball

The commands and default sources are:
      text <string> (Default: touchscreen)
      keyevent [--longpress] <key code number or name> ... (Default: keyboard)
      tap <x> <y> (Default: touchscreen)
      swipe <x1> <y1> <x2> <y2> [duration(ms)] (Default: touchscreen)
      draganddrop <x1> <y1> <x2> <y2> [duration(ms)] (Default: touchscreen)
      press (Default: trackball)
      roll <dx> <dy> (Default: trackball)
"""


async def _invalid(ctx: CommandContext, command: str) -> int:
    await ctx.err(f"Error: Invalid arguments for command: {command}\n{USAGE}")
    return 1


@registry.command("input")
async def input_(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    source = ""
    if args and args[0] in SOURCES:
        source, args = args[0], args[1:]
    if not args:
        await ctx.err(USAGE)
        return 1
    command, rest = args[0], args[1:]
    system = ctx.system
    now = system.clock.now()
    try:
        if command == "text" and len(rest) == 1:
            event = InputEvent("text", now, text=rest[0].replace("%s", " "), source=source)
        elif command == "keyevent" and rest:
            longpress = rest[0] == "--longpress"
            names = rest[1:] if longpress else rest
            if not names:
                return await _invalid(ctx, command)
            for name in names:
                system.inject_input(InputEvent("keyevent", now, keycode=keycode(name) or 0, longpress=longpress,
                                               source=source))
            return 0
        elif command == "tap" and len(rest) == 2:
            event = InputEvent("tap", now, x=float(rest[0]), y=float(rest[1]), source=source)
        elif command in ("swipe", "draganddrop") and len(rest) in (4, 5):
            x1, y1, x2, y2 = (float(v) for v in rest[:4])
            default = 300 if command == "swipe" else 0
            duration = int(rest[4]) if len(rest) == 5 else default
            event = InputEvent(command, now, x=x1, y=y1, x2=x2, y2=y2, duration_ms=max(0, duration), source=source)
            seconds = min(MAX_GESTURE_SECONDS, ctx.handset.clock.host_seconds(max(0, duration) / 1000))
            system.inject_input(event)
            await asyncio.sleep(seconds)  # the real command returns when the gesture ends
            return 0
        elif command == "press" and not rest:
            event = InputEvent("press", now, source=source)
        elif command == "roll" and len(rest) == 2:
            event = InputEvent("roll", now, x=float(rest[0]), y=float(rest[1]), source=source)
        elif command in ("text", "keyevent", "tap", "swipe", "draganddrop", "press", "roll"):
            return await _invalid(ctx, command)
        else:
            await ctx.err(f"Error: Unknown command: {command}\n{USAGE}")
            return 1
    except ValueError:
        return await _invalid(ctx, command)
    system.inject_input(event)
    return 0
