"""The commands the virtual shell knows, and the main classes `app_process` can start.

Other parts of the lab add to both: `register_command("uiautomator", run)` or
`register_main_class("com.wetest.uia2.Main", serve)`. Names are looked up by the command's
name (`getprop`) or, for commands outside the system's bin folders, its full path.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from devicelab.virtual.shell.io import Command

#: Folders of PATH on Android 9; `/system/bin/getprop` is `getprop`.
BIN_DIRS = ("/sbin", "/system/sbin", "/system/bin", "/system/xbin", "/odm/bin", "/vendor/bin", "/vendor/xbin")
PATH = ":".join(BIN_DIRS)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    run: Command
    #: False for commands that work without a running system (recovery): files, echo, reboot
    needs_system: bool = True
    #: what `toybox` runs (toybox's own applets)
    toybox: bool = False


@dataclass(frozen=True)
class MainClass:
    """A Java main class `app_process` can run; `jar_required`: CLASSPATH must name an existing
    file (the class lives in a pushed jar, like uiautomator2's u2.jar)."""

    name: str
    run: Command
    jar_required: bool = True


_COMMANDS: dict[str, CommandSpec] = {}
_MAIN_CLASSES: dict[str, MainClass] = {}


def register_command(name: str, run: Command, *, needs_system: bool = True, toybox: bool = False) -> None:
    """Add or replace a command (a name, or an absolute path such as /data/local/tmp/tool)."""
    _COMMANDS[name] = CommandSpec(name, run, needs_system, toybox)


def unregister_command(name: str) -> None:
    _COMMANDS.pop(name, None)


def command(*names: str, needs_system: bool = True, toybox: bool = False) -> Callable[[Command], Command]:
    """Decorator form of register_command for one or more names."""

    def decorate(run: Command) -> Command:
        for name in names:
            register_command(name, run, needs_system=needs_system, toybox=toybox)
        return run

    return decorate


def lookup(name: str) -> CommandSpec | None:
    """The command `name` runs: by name, by full path, or by basename inside a bin folder."""
    if "/" not in name:
        return _COMMANDS.get(name)
    path = posixpath.normpath(name)
    if path in _COMMANDS:
        return _COMMANDS[path]
    folder, base = posixpath.split(path)
    return _COMMANDS.get(base) if folder in BIN_DIRS else None


def command_names() -> list[str]:
    return sorted(n for n in _COMMANDS if "/" not in n)


def register_main_class(name: str, run: Command, *, jar_required: bool = True) -> None:
    """Let `app_process ... NAME args` run `run`; its ctx.argv is [NAME, *args] and ctx.env
    carries CLASSPATH."""
    _MAIN_CLASSES[name] = MainClass(name, run, jar_required)


def unregister_main_class(name: str) -> None:
    _MAIN_CLASSES.pop(name, None)


def main_class(name: str) -> MainClass | None:
    return _MAIN_CLASSES.get(name)
