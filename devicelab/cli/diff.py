"""`devicelab diff RUN_A RUN_B`: what changed in what the handsets send between two runs.

Exit codes: 0 no new (host, identifier) pair, 1 new pairs appeared, 3 usage or input error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from devicelab.cli.common import EXIT_INPUT, Command
from devicelab.errors import ConfigError


@click.command("diff", cls=Command)
@click.argument("baseline", type=click.Path(path_type=Path))
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the diff to this file instead of standard output.")
def diff(baseline: Path, run: Path, fmt: str, output: Path | None) -> None:
    """Compare two runs (a run folder or its verdict.json): new hosts, new (host, identifier) pairs, TLS changes.

    Exit 0 when no new (host, identifier) pair appeared, 1 when one did, 3 for bad input.
    """
    from devicelab.reports import diff as diffs
    from devicelab.reports.diff_html import to_html
    from devicelab.reports.verdict_json import read_run

    try:
        result = diffs.diff_runs(read_run(baseline), read_run(run))
    except ConfigError as exc:
        click.echo(f"devicelab diff: bad input: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    if fmt == "json":
        text = json.dumps(diffs.to_dict(result), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        text = to_html(result)
    else:
        text = diffs.to_text(result) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            click.echo(f"devicelab diff: cannot write {output}: {exc.strerror}", err=True)
            sys.exit(EXIT_INPUT)
        click.echo(f"{output}: {len(result.pairs_added)} new pair(s)", err=True)
    sys.exit(result.exit_code)
