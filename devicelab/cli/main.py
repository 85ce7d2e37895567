"""The `devicelab` command line."""

from __future__ import annotations

import faulthandler
import importlib
import signal
import sys

import click

from devicelab.errors import ConfigError, DevicelabError, InfrastructureError
from devicelab.model.outcome import EXIT_ERROR
from devicelab.model.secret import install_log_scrubber

#: command name -> "module:attribute". Each is imported when it runs, so `devicelab scan` does not
#: pay for mitmproxy and the gate's stack (about 2 s a start). The virtual lab is a provider like
#: any other: named here, not imported (ARCHITECTURE.md)
COMMANDS = {
    "demo": "devicelab.cli.demo:demo",
    "diff": "devicelab.cli.diff:diff",
    "doctor": "devicelab.cli.doctor:doctor",
    "flow": "devicelab.cli.flow:flow",
    "gate": "devicelab.cli.gate:gate",
    "labgrid-exporter-config": "devicelab.cli.labgrid:exporter_config_command",
    "repro": "devicelab.cli.repro:repro",
    "scan": "devicelab.cli.scan:scan",
    "virtual": "devicelab.virtual.cli:virtual",
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name when they are asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, name = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="devicelab")
def cli() -> None:
    """devicelab: flash handsets, drive first boot, capture traffic, find personal data."""


def main() -> None:
    install_log_scrubber()
    # `kill -USR1 PID` prints every thread's stack to stderr: what a run that seems stuck is doing
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"devicelab: bad input: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except InfrastructureError as exc:
        click.echo(f"devicelab: infrastructure error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except DevicelabError as exc:
        click.echo(f"devicelab: {exc}", err=True)
        sys.exit(EXIT_ERROR)
