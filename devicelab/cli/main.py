"""The `devicelab` command line."""

from __future__ import annotations

import importlib
import sys

import click

from devicelab.errors import ConfigError, DevicelabError, InfrastructureError
from devicelab.model.outcome import EXIT_ERROR
from devicelab.model.secret import install_log_scrubber


@click.group()
@click.version_option(package_name="devicelab")
def cli() -> None:
    """devicelab: flash handsets, drive first boot, capture traffic, find personal data."""


@cli.command()
def demo() -> None:
    """Start a virtual lab and show it working (becomes the privacy gate demo)."""
    from devicelab.cli.demo import run_demo

    run_demo()


VIRTUAL_COMMANDS = "devicelab.virtual.cli:virtual"


def _register_commands() -> None:
    from devicelab.cli.diff import diff
    from devicelab.cli.doctor import doctor
    from devicelab.cli.flow import flow
    from devicelab.cli.gate import gate
    from devicelab.cli.labgrid import exporter_config_command
    from devicelab.cli.repro import repro
    from devicelab.cli.scan import scan

    cli.add_command(gate)
    cli.add_command(repro)
    cli.add_command(scan)
    cli.add_command(diff)
    cli.add_command(doctor)
    cli.add_command(flow)
    cli.add_command(exporter_config_command)
    # the virtual lab is a provider like any other: named, not imported (ARCHITECTURE.md)
    module, _, name = VIRTUAL_COMMANDS.partition(":")
    cli.add_command(getattr(importlib.import_module(module), name))


_register_commands()


def main() -> None:
    install_log_scrubber()
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
