"""`devicelab repro REPORT.yaml`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from devicelab.cli.common import Command
from devicelab.progress import Reporter
from devicelab.repro.model import load_report
from devicelab.repro.run import reproduce


@click.command(cls=Command)
@click.argument("report_file", metavar="REPORT.yaml", type=click.Path(path_type=Path))
@click.option("--lab", default=None, help="Lab inventory (default: the embedded virtual lab).")
@click.option("--sinkhole/--no-sinkhole", default=True, show_default=True,
              help="Answer the suspected host locally, so reproducing the leak does not leak again.")
def repro(report_file: Path, lab: str | None, sinkhole: bool) -> None:
    """Reproduce a reported leak: build x SIM x trigger until it shows.

    Exit codes: 0 reproduced, 1 not reproduced, 3 input or infrastructure error.
    """
    report = load_report(report_file)
    reporter = Reporter()
    reporter.line(f"[bold]devicelab repro[/] {report.title}")
    kinds = ", ".join(report.suspected.identifiers) or "any contact"
    reporter.line(f"  suspected: {report.suspected.host} ({kinds}); sinkhole {'on' if sinkhole else 'off'}")
    result = reproduce(report, lab_path=lab, sinkhole=sinkhole, reporter=reporter)
    hit = result.reproduced
    if hit is not None:
        kinds = ", ".join(sorted({f.kind for f in hit.matches})) or "contact"
        first = hit.matches[0] if hit.matches else None
        reporter.line(f"\n[bold red]reproduced[/] on {hit.build}, SIM {hit.sim or 'none'}, trigger {hit.trigger}")
        if first is not None:
            reporter.line(f"  first matching flow: {first.method} {first.url} ({'TLS' if first.tls else 'plain HTTP'})")
            reporter.line(f"  app: {first.app or 'unknown'}; identifiers: {kinds}; "
                          f"where: {first.location} via {' > '.join(first.decoders) or '-'}")
        else:
            reporter.line(f"  first matching flow: {hit.contact}")
        sys.exit(0)
    table = Table(title="not reproduced: what was covered")
    for column in ("build", "SIM", "trigger", "flows seen", "outcome"):
        table.add_column(column)
    for attempt in result.attempts:
        table.add_row(attempt.build, attempt.sim or "none", attempt.trigger, str(attempt.flows), attempt.outcome)
    reporter.line("\n[bold green]not reproduced[/]")
    reporter.console.print(table)
    errors = [a for a in result.attempts if a.outcome.startswith("error")]
    sys.exit(3 if errors and len(errors) == len(result.attempts) else 1)
