"""`devicelab labgrid-exporter-config`: the labgrid exporter configuration of each USB host of a lab."""

from __future__ import annotations

import sys

import click

from devicelab.cli.common import EXIT_INPUT, Command
from devicelab.errors import ConfigError
from devicelab.lab.labgrid_export import exporter_configs
from devicelab.model.inventory import load_inventory


@click.command("labgrid-exporter-config", cls=Command)
@click.option("--lab", required=True, help="Lab inventory listing the handsets (fixtures/lab/*.yaml).")
@click.option("--host", default=None, help="Only this USB host (a handset's `host` tag or adb server name).")
def exporter_config_command(lab: str, host: str | None) -> None:
    """Print the labgrid exporter configuration of each USB host of a lab inventory."""
    try:
        inventory = load_inventory(lab)
    except ConfigError as exc:
        click.echo(f"devicelab labgrid-exporter-config: bad input: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    if not inventory.handsets:
        click.echo(f"devicelab labgrid-exporter-config: {lab} lists no handsets (a provider's handsets are known "
                   "once it runs: use devicelab.lab.labgrid_export.exporter_configs on a started Lab)", err=True)
        sys.exit(EXIT_INPUT)
    configs = exporter_configs(inventory.handsets, inventory.adb_servers)
    if host is not None and host not in configs:
        click.echo(f"devicelab labgrid-exporter-config: no handset of {lab} is on host {host!r}; hosts: "
                   f"{', '.join(sorted(configs))}", err=True)
        sys.exit(EXIT_INPUT)
    for name, config in sorted(configs.items()):
        if host is None or name == host:
            click.echo(f"# labgrid-exporter -n {name}\n{config}" if host is None else config, nl=False)
