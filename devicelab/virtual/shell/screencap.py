"""`screencap [-p] [FILE]`: the virtual display as PNG or raw RGBA, to stdout or a file."""

from __future__ import annotations

from devicelab.virtual import screen
from devicelab.virtual.fs import FsError
from devicelab.virtual.shell import access, registry
from devicelab.virtual.shell.files import own, reason
from devicelab.virtual.shell.io import CommandContext

USAGE = """usage: screencap [-hp] [-d display-id] [FILENAME]
   -h: this message
   -p: save the file as a png.
   -d: specify the physical display ID to capture (default: 0)
If FILENAME ends with .png it will be saved as a png.
If FILENAME is not given, the results will be printed to stdout.
"""


@registry.command("screencap")
async def screencap(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    as_png = False
    target = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-p":
            as_png = True
        elif arg == "-d":
            i += 1
        elif arg in ("-h", "--help") or arg.startswith("-"):
            await ctx.err(USAGE)
            return 1 if arg not in ("-h", "--help") else 0
        else:
            target = arg
        i += 1
    image = screen.frame(ctx.handset)
    if target is None:
        await ctx.out(screen.encode_png(image) if as_png else screen.encode_raw(image))
        return 0
    path = ctx.path(target)
    data = screen.encode_png(image) if as_png or target.endswith(".png") else screen.encode_raw(image)
    try:
        access.check_write(path, ctx.uid)
        ctx.handset.fs.write(path, data)
        own(ctx, path)
    except FsError as exc:
        await ctx.err(f"Error opening file: {target} ({reason(exc)})\n")
        return 1
    return 0
