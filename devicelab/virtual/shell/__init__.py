"""The virtual handset's shell: `/system/bin/sh` as adbd runs it.

`execute` is the one entry point adbd's `shell:`, `shell,v2,...:` and `exec:` services call.
Commands live in a registry (one module per family); other parts of the lab add theirs with
`register_command`, and Java entry points for `app_process` with `register_main_class`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import TYPE_CHECKING

from devicelab.virtual.shell.interp import Shell, ShellLimit
from devicelab.virtual.shell.io import BufferIO, CommandContext, ShellIO, ShellResult
from devicelab.virtual.shell.registry import (
    PATH,
    command,
    command_names,
    lookup,
    register_command,
    register_main_class,
    unregister_command,
    unregister_main_class,
)

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

__all__ = [
    "BufferIO", "CommandContext", "ShellIO", "ShellResult", "command", "command_names", "execute", "lookup",
    "register_command", "register_main_class", "run", "unregister_command", "unregister_main_class",
]

log = logging.getLogger(__name__)
SHELL_UID = 2000

#: One module per family of commands; importing a module registers its commands.
COMMAND_MODULES = ("special", "basic", "sessions", "files", "fileops", "text", "props", "settings", "pm", "dumpsys",
                   "netinfo", "service", "inputs", "am", "logcat", "screencap", "system", "mounts")
for _module in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_module}")


def default_env(handset: VirtualHandset, uid: int) -> dict[str, str]:
    """The environment adbd's shell starts with on Android 9."""
    user = "root" if uid == 0 else "shell"
    env = {
        "PATH": PATH, "HOME": "/", "SHELL": "/system/bin/sh", "USER": user, "LOGNAME": user,
        "TMPDIR": "/data/local/tmp", "ANDROID_ROOT": "/system", "ANDROID_DATA": "/data",
        "ANDROID_STORAGE": "/storage", "EXTERNAL_STORAGE": "/sdcard", "ASEC_MOUNTPOINT": "/mnt/asec",
        "ANDROID_ASSETS": "/system/app", "ANDROID_BOOTLOGO": "1", "ANDROID_SOCKET_adbd": "10",
    }
    if handset.system is not None:
        env["HOSTNAME"] = handset.system.getprop("ro.product.device") or "localhost"
    return env


async def execute(handset: VirtualHandset, command: str, io: ShellIO, *, root: bool = False) -> int:
    """Run one shell command line on the handset; returns its exit code (0-255).

    Never raises for bad input: syntax errors, unknown commands and failing commands all end
    in an exit code and a message on stderr, as on a real handset.
    """
    uid = 0 if root else SHELL_UID
    system = handset.system
    proc = None
    if system is not None:
        adbd = system.processes.by_name("adbd")
        proc = system.processes.spawn("sh", uid, ppid=adbd[0].pid if adbd else 1, native=True)
    try:
        shell = Shell(handset, uid=uid, env=default_env(handset, uid), pid=proc.pid if proc else 4242)
        return await shell.run_text(command, io)
    except asyncio.CancelledError:
        raise
    except (ShellLimit, RecursionError) as exc:
        await _report(io, f"/system/bin/sh: {exc or 'too deeply nested'}\n")
        return 1
    except Exception as exc:  # the last line of defence: a bug in a command must not kill adbd
        log.exception("%s: shell failed on %r", handset.name, command[:200])
        await _report(io, f"/system/bin/sh: internal error: {exc}\n")
        return 1
    finally:
        if system is not None and proc is not None:
            system.processes.kill(proc.pid)


async def _report(io: ShellIO, message: str) -> None:
    try:
        await io.stderr(message.encode())
    except Exception:  # the stream may be gone; the exit code still tells
        log.debug("could not report a shell error", exc_info=True)


async def run(handset: VirtualHandset, command: str, *, root: bool = False, stdin: bytes = b"") -> ShellResult:
    """Run a command and collect its output (tests, and the lab's own use)."""
    io = BufferIO(stdin)
    code = await execute(handset, command, io, root=root)
    return ShellResult(bytes(io.out), bytes(io.err), code)
