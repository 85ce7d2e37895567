"""`logcat`: dump (-d), tail (-t/-T), follow, clear (-c), buffers (-b), formats (-v), filters
(TAG:PRIO, -s, --pid, -e) over the system's log buffer, in device time."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from dataclasses import dataclass, field

from devicelab.virtual.android import LogEntry
from devicelab.virtual.fs import FsError
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.files import device_tz, reason
from devicelab.virtual.shell.io import CommandContext

BUFFERS = ("main", "radio", "events", "system", "crash", "kernel")
DEFAULT_BUFFERS = ("main", "system", "crash")
FORMATS = ("brief", "process", "tag", "thread", "raw", "time", "threadtime", "long", "epoch", "monotonic")
PRIORITIES = "VDIWEFS"
#: Following never outlives the host's stream, and never this many host seconds.
MAX_FOLLOW = 6 * 3600.0
POLL = 0.5


@dataclass
class Options:
    dump: bool = False
    clear: bool = False
    buffers: list[str] = field(default_factory=lambda: list(DEFAULT_BUFFERS))
    fmt: str = "threadtime"
    usec: bool = False
    tail: int | None = None
    since: float | None = None
    max_count: int | None = None
    pid: int | None = None
    regex: re.Pattern[str] | None = None
    silent: bool = False
    filters: list[tuple[str, str]] = field(default_factory=list)
    file: str | None = None
    sizes: bool = False


class UsageError(ValueError):
    pass


def _parse_time(text: str, ctx: CommandContext) -> float:
    """`-t 'MM-DD HH:MM:SS.mmm'` (or seconds since the epoch) as device time."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    now = dt.datetime.fromtimestamp(ctx.handset.clock.now(), device_tz(ctx))
    for pattern in ("%m-%d %H:%M:%S.%f", "%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            parsed = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        year = parsed.year if "%Y" in pattern else now.year
        return parsed.replace(year=year, tzinfo=now.tzinfo).timestamp()
    raise UsageError(f"Invalid time format: {text}")


def parse_options(ctx: CommandContext) -> Options:
    args = ctx.argv[1:]
    opts = Options()
    chosen: list[str] = []
    i = 0

    def value() -> str:
        nonlocal i
        if i + 1 >= len(args):
            raise UsageError(f"option requires an argument -- {args[i].lstrip('-')}")
        i += 1
        return args[i]

    while i < len(args):
        arg = args[i]
        if arg.startswith("--pid="):
            opts.pid = int(arg.split("=", 1)[1]) if arg.split("=", 1)[1].isdecimal() else -1
        elif arg.startswith("--regex=") or arg == "-e" or arg == "--regex":
            pattern = arg.split("=", 1)[1] if "=" in arg else value()
            try:
                opts.regex = re.compile(pattern)
            except re.error as exc:
                raise UsageError(f"Invalid regex {pattern}: {exc}") from None
        elif arg in ("-d",):
            opts.dump = True
        elif arg in ("-c", "--clear"):
            opts.clear = True
        elif arg == "-s":
            opts.silent = True
        elif arg == "-g" or arg == "--buffer-size":
            opts.sizes = True
        elif arg in ("-b", "--buffer") or (arg.startswith("-b") and len(arg) > 2):
            names = arg[2:] if len(arg) > 2 and not arg.startswith("--") else value()
            for name in names.split(","):
                if name == "all":
                    chosen.extend(BUFFERS)
                elif name == "default":
                    chosen.extend(DEFAULT_BUFFERS)
                elif name in BUFFERS:
                    chosen.append(name)
                else:
                    raise UsageError(f"unknown buffer {name}")
        elif arg in ("-v", "--format") or (arg.startswith("-v") and len(arg) > 2):
            name = arg[2:] if len(arg) > 2 and not arg.startswith("--") else value()
            if name in FORMATS:
                opts.fmt = name
            elif name == "usec":
                opts.usec = True
            elif name not in ("color", "descriptive", "printable", "uid", "UTC", "year", "zone", "nsec", "long"):
                raise UsageError(f"Invalid parameter \"{name}\" to -v")
        elif arg in ("-t", "-T"):
            text = value()
            if text.isdecimal():
                opts.tail = int(text)
            else:
                opts.since = _parse_time(text, ctx)
            opts.dump = opts.dump or arg == "-t"
        elif arg in ("-m", "--max-count"):
            text = value()
            if not text.isdecimal():
                raise UsageError(f"-m \"{text}\" isn't an integer greater than zero")
            opts.max_count = int(text)
        elif arg in ("-f", "--file"):
            opts.file = value()
        elif arg in ("-r", "-n", "-G"):
            value()
        elif arg in ("-B", "-D", "--dividers", "-L", "-S", "--statistics", "-Q"):
            pass
        elif arg.startswith("-"):
            raise UsageError(f"invalid option -- {arg.lstrip('-')[:1]}")
        else:
            tag, _, prio = arg.rpartition(":") if ":" in arg else (arg, "", "V")
            prio = (prio or "V")[:1].upper()
            if prio not in PRIORITIES:
                raise UsageError(f"Invalid filter expression '{arg}'")
            opts.filters.append((tag, prio))
        i += 1
    if chosen:
        opts.buffers = list(dict.fromkeys(chosen))
    for spec in ctx.env.get("ANDROID_LOG_TAGS", "").split():
        tag, _, prio = spec.rpartition(":")
        if tag and prio[:1].upper() in PRIORITIES:
            opts.filters.append((tag, prio[:1].upper()))
    return opts


def _visible(entry: LogEntry, opts: Options) -> bool:
    if entry.buffer not in opts.buffers:
        return False
    if opts.pid is not None and entry.pid != opts.pid:
        return False
    if opts.since is not None and entry.time < opts.since:
        return False
    if opts.regex is not None and not opts.regex.search(entry.message):
        return False
    floor = "S" if opts.silent else "V"
    for tag, prio in opts.filters:
        if tag == "*":
            floor = prio
    for tag, prio in opts.filters:
        if tag == entry.tag:
            floor = prio
    level = entry.level if entry.level in PRIORITIES else "I"
    return floor != "S" and PRIORITIES.index(level) >= PRIORITIES.index(floor)


def format_entry(entry: LogEntry, fmt: str, tz: dt.tzinfo, *, usec: bool = False) -> str:
    """One entry as logcat prints it in format `fmt` (one line per message line)."""
    when = dt.datetime.fromtimestamp(entry.time, tz)
    stamp = when.strftime("%m-%d %H:%M:%S") + (f".{when.microsecond:06d}" if usec else
                                                f".{when.microsecond // 1000:03d}")
    if fmt == "epoch":
        stamp = f"{entry.time:.6f}" if usec else f"{entry.time:.3f}"
    prefixes = {
        "threadtime": f"{stamp} {entry.pid:5d} {entry.tid:5d} {entry.level} {entry.tag:<8}: ",
        "epoch": f"{stamp} {entry.pid:5d} {entry.tid:5d} {entry.level} {entry.tag:<8}: ",
        "monotonic": f"{stamp} {entry.pid:5d} {entry.tid:5d} {entry.level} {entry.tag:<8}: ",
        "time": f"{stamp} {entry.level}/{entry.tag:<8}({entry.pid:5d}): ",
        "brief": f"{entry.level}/{entry.tag:<8}({entry.pid:5d}): ",
        "tag": f"{entry.level}/{entry.tag:<8}: ",
        "thread": f"{entry.level}({entry.pid:5d}:{entry.tid:5d}) ",
        "process": f"{entry.level}({entry.pid:5d}) ",
        "raw": "",
    }
    lines = entry.message.split("\n")
    if fmt == "long":
        return f"[ {stamp} {entry.pid:5d}:{entry.tid:5d} {entry.level}/{entry.tag:<8} ]\n{entry.message}\n\n"
    if fmt == "process":
        return "".join(f"{prefixes['process']}{line}  ({entry.tag})\n" for line in lines)
    return "".join(f"{prefixes.get(fmt, prefixes['threadtime'])}{line}\n" for line in lines)


class _Printer:
    """Writes formatted entries with `--------- beginning of BUF` dividers, to stdout or a file."""

    def __init__(self, ctx: CommandContext, opts: Options) -> None:
        self.ctx = ctx
        self.opts = opts
        self.tz = device_tz(ctx)
        self.seen_buffers: set[str] = set()
        self.count = 0

    def done(self) -> bool:
        return self.opts.max_count is not None and self.count >= self.opts.max_count

    async def write(self, entries: list[LogEntry]) -> None:
        chunks = []
        for entry in entries:
            if self.done():
                break
            if entry.buffer not in self.seen_buffers:
                self.seen_buffers.add(entry.buffer)
                chunks.append(f"--------- beginning of {entry.buffer}\n")
            chunks.append(format_entry(entry, self.opts.fmt, self.tz, usec=self.opts.usec))
            self.count += 1
        if not chunks:
            return
        text = "".join(chunks).encode()
        if self.opts.file is None:
            await self.ctx.out(text)
        else:
            self.ctx.handset.fs.append(self.ctx.path(self.opts.file), text)


@registry.command("logcat")
async def logcat(ctx: CommandContext) -> int:
    try:
        opts = parse_options(ctx)
    except UsageError as exc:
        await ctx.err(f"logcat: {exc}\nUsage: logcat [options] [filterspecs]\n")
        return 1
    buffer = ctx.system.logcat
    if opts.clear:
        buffer.clear()
        return 0
    if opts.sizes:
        used = sum(len(e.message) + len(e.tag) + 20 for e in buffer.entries)
        await ctx.out("".join(f"{name}: ring buffer is 256Kb ({min(256, used // 1024)}Kb consumed), max entry is "
                              "5120b, max payload is 4068b\n" for name in opts.buffers))
        return 0
    if opts.file is not None:
        path = ctx.path(opts.file)
        try:
            access.check_write(path, ctx.uid)
            ctx.handset.fs.write(path, b"")
        except FsError as exc:
            await ctx.err(f"logcat: couldn't open output file: {reason(exc)}\n")
            return 1
    printer = _Printer(ctx, opts)
    seen = buffer.written
    shown = [e for e in buffer.entries if _visible(e, opts)]
    if opts.tail is not None:
        shown = shown[-opts.tail :] if opts.tail else []
    await printer.write(shown)
    if opts.dump or printer.done():
        return 0
    deadline = time.monotonic() + MAX_FOLLOW
    while not ctx.io.closed.is_set() and not printer.done() and time.monotonic() < deadline:
        wait_closed = asyncio.ensure_future(ctx.io.closed.wait())
        wait_new = asyncio.ensure_future(buffer.wait_new(seen, POLL))
        try:
            await asyncio.wait((wait_closed, wait_new), return_when=asyncio.FIRST_COMPLETED)
        finally:
            wait_closed.cancel()
            wait_new.cancel()
        system = ctx.handset.system
        if system is None or system.logcat is not buffer:
            return 0  # rebooted: the real logcat dies with the device
        await printer.write([e for e in buffer.since(seen) if _visible(e, opts)])
        seen = buffer.written
    return 0
