"""`devicelab flow record` and `devicelab flow check`: write a wizard's flow from a walk through it
by hand, and dry-run a flow's screen recognition against the dumps saved with it."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from devicelab.cli.common import Command
from devicelab.flows.model import load_flow_file
from devicelab.flows.recording import check, draft, dumps_dir, record, save
from devicelab.handset.hierarchy import Window
from devicelab.lab.lab import Lab
from devicelab.progress import Reporter


@click.group()
def flow() -> None:
    """Setup-wizard flows: record one by hand, check one against saved dumps."""


def is_home(window: Window) -> bool:
    """A launcher in front: the walk is over."""
    return "launcher" in window.package.lower()


@flow.command("record", cls=Command)
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The flow file to write (fixtures/flows/NAME.yaml); dumps go to NAME.dumps/.")
@click.option("--lab", default=None, help="Lab inventory (default: the embedded virtual lab).")
@click.option("--handset", "handset_id", default=None, help="The handset's id in the lab (default: any).")
@click.option("--timeout", default=900.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds to wait for the walk to reach the home screen.")
@click.option("--interval", default=0.5, show_default=True, type=click.FloatRange(0.05, 10),
              help="Seconds between two reads of the screen.")
def record_command(out: Path, lab: str | None, handset_id: str | None, timeout: float, interval: float) -> None:
    """Walk the setup wizard by hand on a handset while devicelab saves each screen, then write
    a draft flow (exit 0), or exit 1 when the walk did not reach the home screen in time."""
    reporter = Reporter()
    the_lab = Lab.from_file(lab)
    the_lab.start()
    try:
        with the_lab.lease({"id": handset_id} if handset_id else {}, holder="flow record") as handset:
            fingerprint = handset.fingerprint()
            ui = handset.ui()
            reporter.line(f"recording {escape(handset.entry.id)} ({escape(fingerprint)}): walk the wizard now")
            walk = record(lambda: (ui.dump("record a screen"), handset.screenshot()), is_home=is_home,
                          fingerprint=fingerprint, timeout=timeout, interval=interval)
            source = f"{handset.entry.id} ({fingerprint})"
    finally:
        the_lab.stop()
    if walk.home is None:
        reporter.line(f"the walk did not reach the home screen in {timeout:.0f} s ({len(walk.screens)} screens seen)")
        sys.exit(1)
    save(walk, out, draft(walk, out.stem, source))
    load_flow_file(out)  # the draft is a valid flow, or one ConfigError naming the field
    reporter.line(f"{len(walk.screens)} screens -> {escape(str(out))} (dumps in {escape(str(dumps_dir(out)))})")


@flow.command("check", cls=Command)
@click.argument("flow_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--dumps", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="Folder of dumps with screens.json (default: the flow's NAME.dumps/).")
def check_command(flow_file: Path, dumps: Path | None) -> None:
    """Recognise each saved dump with the flow: exit 0 when every one is the screen it was
    recorded as, 1 otherwise."""
    reporter = Reporter()
    results = check(load_flow_file(flow_file), dumps or dumps_dir(flow_file))
    for result in results:
        mark = "[green]ok[/]" if result.ok else "[bold red]MISMATCH[/]"
        reporter.line(f"{mark}  {escape(result.dump)}: recorded {escape(result.expected)}, "
                      f"recognised {escape(result.recognised)}")
    sys.exit(0 if results and all(r.ok for r in results) else 1)
