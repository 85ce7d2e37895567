"""`devicelab virtual`: run the virtual lab by hand, and build its factory images."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from devicelab.lab import netguard
from devicelab.model.builds import load_build_file
from devicelab.virtual.control import ControlServer
from devicelab.virtual.image import write_factory_zip
from devicelab.virtual.lab import VirtualLab
from devicelab.virtual.provider import watch_users


@click.group()
def virtual() -> None:
    """The virtual lab: Python handsets that real adb, fastboot and uiautomator2 drive."""


@virtual.command("up")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 64), help="Handsets to run.")
@click.option("--build", "build_name", default="nokia7plus-00WW_3_22C_SP05", show_default=True,
              help="Build each handset starts with (a name in fixtures/builds/).")
@click.option("--sim", default=None, help="SIM profile in each slot (a name in fixtures/sims/); none by default.")
@click.option("--adb-port", "adb_ports", multiple=True, type=click.IntRange(1, 65535),
              help="adb server to register with (started if not running); default 5037. Repeat it for a rack: "
                   "each port is one USB host, and the handsets are spread over them.")
@click.option("--boot-seconds", default=None, type=click.FloatRange(0, 600), help="Override boot time.")
@click.option("--clock-scale", default=1.0, show_default=True, type=click.FloatRange(0.01, 10000),
              help="Device seconds per host second (60: an hour of device time passes in a minute).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per handset, then READY.")
@click.option("--users-file", type=click.Path(path_type=Path), default=None, hidden=True,
              help="Exit once no process listed in this JSON file is alive (shared embedded lab).")
@click.option("--control", "control_path", type=click.Path(path_type=Path), default=None,
              help="Serve the lab's control channel (insert SIMs, inject faults) on this unix socket.")
@click.option("--received-log", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Append one JSON line per request the lab's internet answered to this file.")
def virtual_up(count: int, build_name: str, sim: str | None, adb_ports: tuple[int, ...], boot_seconds: float | None,
               clock_scale: float, as_json: bool, users_file: Path | None, control_path: Path | None,
               received_log: Path | None) -> None:
    """Run virtual handsets in the foreground until interrupted."""
    netguard.install_from_env()  # a lab started by a guarded test run is guarded too

    ports = adb_ports or (5037,)
    if len(ports) > count:
        raise click.UsageError(f"{len(ports)} adb servers (USB hosts) for {count} handset(s): give fewer --adb-port")
    lab = VirtualLab(count, build=build_name, sim=sim, adb_server_port=ports, boot_seconds=boot_seconds,
                     clock_scale=clock_scale, received_log=received_log)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if users_file is not None:
        threading.Thread(target=watch_users, args=(users_file, stop), daemon=True).start()
    with lab, contextlib.ExitStack() as cleanup:
        if control_path is not None:
            control = ControlServer(lab, control_path)
            control.start()
            cleanup.callback(control.stop)
        for info in lab.info():
            if as_json:
                click.echo(json.dumps(info.as_dict()))
            else:
                click.echo(f"{info.usb_host:<8} {info.adb_serial:<16} {info.fastboot:<22} {info.serialno}  "
                           f"{info.fingerprint}")
        servers = ", ".join(map(str, ports))
        click.echo("READY" if as_json else f"{count} virtual handset(s) up on adb server port(s) {servers}; "
                   "Ctrl-C to stop")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass


@virtual.command("build-image")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Zip to write.")
def virtual_build_image(manifest: Path, output: Path) -> None:
    """Make a factory image zip from a build manifest, for `fastboot update`."""

    build = load_build_file(manifest)
    write_factory_zip(build, output)
    click.echo(f"{output}: {build.fingerprint}")


def _value(text: str) -> object:
    """`true`/`false`/`null` as JSON has them; anything else stays a string."""
    return {"true": True, "false": False, "null": None}.get(text, text)


@virtual.command("control")
@click.option("--socket", "socket_path", required=True, type=click.Path(path_type=Path),
              help="The lab's control socket (`virtual up --control PATH`).")
@click.argument("op")
@click.argument("args", nargs=-1)
def virtual_control(socket_path: Path, op: str, args: tuple[str, ...]) -> None:
    """Send one op to a running virtual lab: the hands of the person at the handsets.

    \b
    devicelab virtual control --socket /tmp/lab.sock finish_setup serialno=B2N...
    devicelab virtual control --socket /tmp/lab.sock usb_debugging serialno=B2N... enabled=true
    devicelab virtual control --socket /tmp/lab.sock usb_prompt serialno=B2N... allow=true always=true
    """
    from devicelab.virtual.control import ControlClient, ControlError

    fields: dict[str, Any] = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep or not name:
            raise click.UsageError(f"expected NAME=VALUE, got {arg!r}")
        fields[name] = _value(value)
    try:
        result = ControlClient(socket_path).request(op, **fields)
    except ControlError as exc:
        click.echo(f"devicelab: {exc}", err=True)
        sys.exit(3)
    click.echo(json.dumps(result))
