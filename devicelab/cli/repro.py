"""`devicelab repro REPORT.yaml`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from devicelab.analysis.findings import Finding
from devicelab.cli.common import Command
from devicelab.errors import ConfigError
from devicelab.progress import Reporter
from devicelab.reports.writer import Written
from devicelab.repro.model import load_report
from devicelab.repro.run import REPRO_FILE, reproduce


@click.command(cls=Command)
@click.argument("report_file", metavar="REPORT.yaml", type=click.Path(path_type=Path))
@click.option("--lab", default=None, help="Lab inventory (default: the embedded virtual lab).")
@click.option("--sinkhole/--no-sinkhole", default=True, show_default=True,
              help="Answer the suspected host locally, so reproducing the leak does not leak again.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report folder: the gate's reports for the deciding attempt, and repro.json with the "
                   "matrix (default: a new reports/repro-REPORT/RUN_TIME).")
def repro(report_file: Path, lab: str | None, sinkhole: bool, out: Path | None) -> None:
    """Reproduce a reported leak: build x SIM x trigger until it shows.

    Exit codes: 0 reproduced, 1 not reproduced, 3 input or infrastructure error.
    """
    report = load_report(report_file)
    reporter = Reporter()
    reporter.line(f"[bold]devicelab repro[/] {report.title}")
    kinds = ", ".join(report.suspected.identifiers) or "any contact"
    reporter.line(f"  suspected: {report.suspected.host} ({kinds}); sinkhole {'on' if sinkhole else 'off'}")
    if out is None:
        out = Path("reports") / f"repro-{report_file.stem}" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    elif out.exists() and any(out.iterdir()):
        raise ConfigError(str(out), "--out", "is not empty: give a new folder")
    result = reproduce(report, lab_path=lab, sinkhole=sinkhole, reporter=reporter, out=out, command=tuple(sys.argv))
    hit = result.reproduced
    if hit is not None:
        kinds = ", ".join(sorted({f.kind for f in hit.matches})) or "contact"
        first = hit.matches[0] if hit.matches else None
        reporter.line(f"\n[bold red]reproduced[/] on {hit.build}, SIM {hit.sim or 'none'}, trigger {hit.trigger}")
        if first is not None:
            reporter.line(f"  first matching flow: {first.method} {first.url} ({'TLS' if first.tls else 'plain HTTP'})")
            reporter.line(f"  app: {first.app or 'unknown'}; identifiers: {kinds}")
            for match in _first_of_each(hit.matches):  # each identifier where it was, not the first one's place
                via = " > ".join(match.decoders) or "-"
                reporter.line(f"    {match.kind} {match.redacted}: {match.location} via {via}")
        else:
            reporter.line(f"  first matching flow: {hit.contact}")
        _written(reporter, result.written)
        sys.exit(0)
    table = Table(title="not reproduced: what was covered")
    for column in ("build", "SIM", "trigger", "flows seen", "outcome"):
        table.add_column(column)
    for attempt in result.attempts:
        table.add_row(attempt.build, attempt.sim or "none", attempt.trigger, str(attempt.flows), attempt.outcome)
    reporter.line("\n[bold green]not reproduced[/]")
    reporter.console.print(table)
    _written(reporter, result.written)
    errors = [a for a in result.attempts if a.outcome.startswith("error")]
    sys.exit(3 if errors and len(errors) == len(result.attempts) else 1)


def _first_of_each(matches: tuple[Finding, ...]) -> list[Finding]:
    seen: dict[tuple[str, str], Finding] = {}
    for match in matches:
        seen.setdefault((match.kind, match.identifier), match)
    return list(seen.values())


def _written(reporter: Reporter, written: Written | None) -> None:
    if written is not None:
        reporter.line(f"report: {written.html}\nverdict.json: {written.verdict}\n"
                      f"matrix: {written.verdict.parent / REPRO_FILE}")
