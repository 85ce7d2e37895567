"""`devicelab scan`: find the handset's identifiers in saved captures and judge them by a policy.

Exit codes: 0 pass, 1 fail, 2 inconclusive, 3 usage or input error.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import click

from devicelab.cli.common import EXIT_INPUT, Command
from devicelab.errors import ConfigError


@click.command("scan", cls=Command)
@click.argument("captures", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--identity", "identity_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Identity file (YAML or JSON) with the handset's identifiers.")
@click.option("--policy", "policy_name", default=None,
              help="Policy file or name in fixtures/policies/ (as in gate). Without one no host is approved.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def scan(captures: tuple[Path, ...], identity_path: Path, policy_name: str | None, fmt: str) -> None:
    """Scan HAR or mitmproxy flow files for the handset's identifiers (exit 0 pass, 1 fail, 2 inconclusive)."""
    from devicelab.analysis.report import to_text
    from devicelab.capture.files import scan_files
    from devicelab.model.identity import load_identity
    from devicelab.model.policy import STRICT, resolve_policy
    from devicelab.reports.collect import scan_run
    from devicelab.reports.model import BuildRef
    from devicelab.reports.redaction import Redactor
    from devicelab.reports.verdict_json import to_json

    try:
        identity = load_identity(identity_path)
        if identity.is_empty():
            raise ConfigError(str(identity_path), "", "the identity lists no identifier and no location")
        policy, policy_path = resolve_policy(policy_name) if policy_name else (STRICT, None)
        report = scan_files(captures, identity, policy)
    except ConfigError as exc:
        click.echo(f"devicelab scan: bad input: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    if fmt == "json":
        # the gate's verdict.json, for a run whose one "handset" is the saved captures
        run = scan_run(report, Redactor([identity]), run_id=f"scan-{uuid.uuid4().hex[:8]}",
                       build=BuildRef(name="saved captures"), policy_path=str(policy_path or ""),
                       command=("devicelab", "scan", *map(str, captures)))
        click.echo(to_json(run), nl=False)
    else:
        click.echo(to_text(report))
    sys.exit(report.verdict.exit_code)
