"""`devicelab gate`: one command, one exit code, reports a release manager can read."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from devicelab.cli.common import Command
from devicelab.gate.options import GateOptions
from devicelab.gate.run import run_gate
from devicelab.progress import Reporter

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow", "error": "bold magenta"}


@click.command(cls=Command)
@click.option("--build", "build", required=True, help="Build under test: a name in fixtures/builds/.")
@click.option("--from", "from_build", default=None, help="Flash this build first, then update to --build.")
@click.option("--lab", default=None, help="Lab inventory (default: the embedded virtual lab).")
@click.option("--policy", default=None,
              help="Policy file or name in fixtures/policies/ (default: by the build's SKU).")
@click.option("--sim", default=None, help="SIM profile to insert during activation (fixtures/sims/).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report folder (default: reports/gate-BUILD).")
@click.option("--handsets", default=1, show_default=True, type=click.IntRange(1, 64), help="Handsets to gate on.")
@click.option("--window", default=900.0, show_default=True, type=click.FloatRange(1, 7 * 24 * 3600),
              help="Observation window in device seconds.")
@click.option("--consent", type=click.Choice(["decline", "accept"]), default="decline", show_default=True,
              help="First-boot choice for optional data sharing.")
@click.option("--wifi/--no-wifi", default=False, show_default=True, help="Join the lab Wi-Fi in the setup wizard.")
@click.option("--baseline", type=click.Path(path_type=Path), default=None,
              help="A previous run: new (host, identifier) pairs fail the gate even where the policy is silent.")
@click.option("--no-flash", is_flag=True, default=False,
              help="Flash nothing: check the handset already runs --build, then factory-reset it.")
@click.option("--lease-timeout", type=float, default=None, help="Seconds to wait for free handsets.")
@click.option("--allure-html/--no-allure-html", default=True, show_default=True,
              help="Render Allure's HTML report (needs the Allure CLI and Java); the results are always written.")
def gate(build: str, from_build: str | None, lab: str | None, policy: str | None, sim: str | None, out: Path | None,
         handsets: int, window: float, consent: str, wifi: bool, baseline: Path | None,
         lease_timeout: float | None, no_flash: bool, allure_html: bool) -> None:
    """Gate a build: flash, factory reset, first boot, activation, observe, judge.

    Exit codes: 0 pass, 1 fail, 2 inconclusive, 3 infrastructure error.
    """
    options = GateOptions(build=build, from_build=from_build, lab=lab, policy=policy, sim=sim,
                          out=out or Path("reports") / f"gate-{build}", handsets=handsets, window=window,
                          consent=consent, wifi=wifi, baseline=baseline, lease_timeout=lease_timeout,
                          no_flash=no_flash, allure_html=allure_html, command=tuple(sys.argv))
    reporter = Reporter()
    reporter.line(f"[bold]devicelab gate[/] {build}" + (f" (update from {from_build})" if from_build else ""))
    written = run_gate(options, reporter)
    run = written.run
    outcome = run.outcome
    reporter.line(f"\nverdict: [{VERDICT_STYLE[outcome]}]{outcome.upper()}[/]  (exit {run.exit_code})")
    for result in run.handsets:
        for violation in result.violations[:10]:
            reporter.line(f"  {result.handset.id}: {violation.host}  {violation.kind or '-'}  {violation.rule}")
        if len(result.violations) > 10:
            reporter.line(f"  ... and {len(result.violations) - 10} more")
        for gap in result.coverage.counted_gaps[:5]:
            reporter.line(f"  {result.handset.id}: not seen: {gap.kind} {gap.host} {gap.detail}")
    for error in run.infra_errors:
        reporter.line(f"  lab error: {error.handset or 'lab'} {error.step}: {error.message}")
    reporter.line(f"report: {written.html}\nverdict.json: {written.verdict}\njunit: {written.junit}")
    if written.allure_report is not None:
        reporter.line(f"allure: {written.allure_report}")
    sys.exit(run.exit_code)
