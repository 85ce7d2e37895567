"""`devicelab doctor`: a read-only preflight of a lab (and a build) before the gate runs."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape

from devicelab.adb.client import AdbClient
from devicelab.cli.common import Command
from devicelab.errors import LeaseTimeoutError
from devicelab.lab.lab import Lab
from devicelab.lab.preflight import Check, build_checks, handset_checks, warn
from devicelab.model.builds import load_build
from devicelab.progress import Reporter

#: seconds to wait for a handset another run holds
LEASE_WAIT = 5.0
STYLE = {"ok": "green", "missing": "bold red", "warn": "yellow"}


@click.command(cls=Command)
@click.option("--lab", default=None, help="Lab inventory (default: the embedded virtual lab).")
@click.option("--build", "build_name", default=None, help="The build the gate would flash (fixtures/builds/).")
@click.option("--no-flash", is_flag=True, default=False, help="Check for a gate run with --no-flash.")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the checks as JSON.")
def doctor(lab: str | None, build_name: str | None, no_flash: bool, as_json: bool) -> None:
    """Check, without changing anything, what the gate needs: adb, build, bootloader, image,
    identity, flow, radio and clock of every handset.

    Exit codes: 0 the gate can run, 1 something is missing (each line says how to fix it), 3 the
    lab itself could not be reached.
    """
    build = load_build(build_name) if build_name else None
    checks: list[Check] = build_checks(build) if build is not None else []
    the_lab = Lab.from_file(lab)
    reporter = Reporter()
    with reporter.status(f"starting lab {the_lab.name}"):
        the_lab.start()
    try:
        for entry in the_lab.entries:
            client = AdbClient(the_lab.servers[entry.adb.server])
            try:  # a handset another run holds is mid-flash or mid-reboot: not ours to judge now
                with the_lab.lease({"id": entry.id}, timeout=LEASE_WAIT, holder="doctor") as handset:
                    checks += handset_checks(handset, client, build, no_flash=no_flash,
                                             proxy=the_lab.inventory.proxy)
            except LeaseTimeoutError:
                checks.append(warn(entry.id, "lease", "in use by another run: not checked", "run doctor again later"))
    finally:
        the_lab.stop()
    ready = all(c.status != "missing" for c in checks)
    if as_json:
        click.echo(json.dumps({"ready": ready, "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        for check in checks:
            reporter.line(f"[{STYLE[check.status]}]{check.status:>7}[/]  {escape(check.subject)}  "
                          f"{escape(check.name)}: {escape(check.detail)}")
            if check.fix:
                reporter.line(f"         fix: {escape(check.fix)}")
        reporter.line("ready for the gate" if ready else "[bold red]not ready for the gate[/]")
    sys.exit(0 if ready else 1)
