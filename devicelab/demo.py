"""`make demo`: the embedded virtual lab, driven by the same harness that drives real handsets.

For now it shows the lab working end to end: handsets appear in the real adb server, report
their identity, and take a new build through real `fastboot update`. (The privacy gate of the
leaky and the fixed Nokia 7 plus builds takes this place once capture and analysis land.)
"""

from __future__ import annotations

import subprocess
import time

from rich.console import Console
from rich.table import Table

from devicelab.adb.server import adb_binary
from devicelab.builds import load_build
from devicelab.lab import Lab


def run_demo() -> None:
    console = Console()
    start = time.monotonic()
    lab = Lab.from_file()
    with console.status("starting the embedded virtual lab"):
        lab.start()
    with lab:
        server = lab.servers["local"]
        console.print(f"[bold]virtual lab[/] up in {time.monotonic() - start:.1f} s; adb server on port {server.port}")
        adb = subprocess.run([adb_binary(), "-P", str(server.port), "devices", "-l"], capture_output=True, text=True,
                             timeout=15, check=True)
        console.print(adb.stdout.rstrip())
        with lab.lease({}, holder="demo") as handset:
            handset.check_health()
            identity = handset.identity()
            table = Table(title=f"handset {handset.serial}: what a privacy test looks for")
            table.add_column("identifier")
            table.add_column("value")
            for kind, value in identity.identifiers():
                table.add_row(kind, value)
            console.print(table)
            leaky = load_build("nokia7plus-00WW_3_22C")
            fixed = load_build("nokia7plus-00WW_3_22C_SP05")
            for build in (leaky, fixed):
                with console.status(f"flashing {build.name} with fastboot update"):
                    t = time.monotonic()
                    handset.flash(build)
                console.print(f"flashed [bold]{build.name}[/] in {time.monotonic() - t:.1f} s; "
                              f"the handset reports {handset.fingerprint()}")
    console.print(f"done in {time.monotonic() - start:.1f} s; the lab stopped and left nothing behind")
