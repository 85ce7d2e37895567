"""`make demo`: start the embedded virtual lab and show it working."""

from __future__ import annotations

import click

from devicelab.virtual.lab import VirtualLab


def run_demo() -> None:
    with VirtualLab(2, adb_server_port=5037) as lab:
        lab.wait_booted(timeout=60)
        for info in lab.info():
            click.echo(f"{info.adb_serial:<16} {info.serialno}  {info.fingerprint}")
