"""`devicelab gate`: one command, one exit code, reports a release manager can read."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from devicelab.cli.common import Command
from devicelab.gate.options import GateOptions
from devicelab.gate.run import run_gate
from devicelab.model.inventory import Mode
from devicelab.progress import Reporter
from devicelab.reports.verdict_json import read_run

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow", "error": "bold magenta"}


@click.command(cls=Command)
@click.option("--build", "build", required=True,
              help="Build under test: a name in fixtures/builds/, or a path to a build file.")
@click.option("--from", "from_build", default=None, help="Flash this build first, then update to --build.")
@click.option("--lab", default=None, help="Lab inventory (default: the embedded virtual lab).")
@click.option("--policy", default=None,
              help="Policy file or name in fixtures/policies/ (default: by the build's SKU).")
@click.option("--sim", default=None, help="SIM profile to insert during activation (fixtures/sims/).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run folder (default: a new reports/gate-BUILD/RUN_ID, linked as reports/gate-BUILD/latest).")
@click.option("--force", is_flag=True, help="Replace the run folder given as --out if it holds a previous run.")
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
@click.option("--evidence", type=click.Choice(["full", "redacted"]), default="full", show_default=True,
              help="full: the raw captures, logcat and screenshots (they hold identifiers); redacted: logs scrubbed, "
                   "captures and screenshots left out, for a CI system that may not store identifiers.")
@click.option("--capture", "capture", type=click.Choice(["regular", "wireguard", "gateway"]), default=None,
              help="How the handset reaches the capture (default: the lab's proxy.mode). gateway: devicelab routes "
                   "the handset and records every packet from power-on; needs CAP_NET_ADMIN.")
@click.option("--allure-html/--no-allure-html", default=True, show_default=True,
              help="Render Allure's HTML report (needs the Allure CLI and Java); the results are always written.")
@click.option("--differential", is_flag=True,
              help="Gate on two handsets of different identities, each watched twice (a reboot between), and "
                   "flag values that follow the identity in any encoding (identity_derived). Implies --handsets 2.")
@click.option("--wizard", type=click.Choice(["auto", "operator"]), default="auto", show_default=True,
              help="Who walks the setup wizard: devicelab over adb (auto), or a person (operator: a retail phone "
                   "whose adb is off; needs --capture gateway; --window is then host seconds).")
@click.option("--operator-done", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="With --wizard operator and no terminal (CI): devicelab writes DIR/HANDSET.waiting with the "
                   "instructions and goes on when DIR/HANDSET.done appears.")
@click.option("--operator-timeout", type=click.FloatRange(1, 24 * 3600), default=1800.0, show_default=True,
              help="Seconds to wait for the person to finish the wizard.")
def gate(build: str, from_build: str | None, lab: str | None, policy: str | None, sim: str | None, out: Path | None,
         handsets: int, window: float, consent: str, wifi: bool, baseline: Path | None,
         lease_timeout: float | None, evidence: str, capture: Mode | None, no_flash: bool, allure_html: bool,
         force: bool, differential: bool, wizard: str, operator_done: Path | None, operator_timeout: float) -> None:
    """Gate a build: flash, factory reset, first boot, activation, observe, judge.

    Exit codes: 0 pass, 1 fail, 2 inconclusive, 3 infrastructure error, 130 stopped (SIGINT/SIGTERM).
    """
    if differential and handsets == 1:
        handsets = 2  # a differential run compares two identities
    options = GateOptions(build=build, from_build=from_build, lab=lab, policy=policy, sim=sim,
                          out=out, force=force, handsets=handsets, window=window,
                          consent=consent, wifi=wifi, baseline=baseline, lease_timeout=lease_timeout,
                          evidence=evidence, capture=capture, no_flash=no_flash, allure_html=allure_html,
                          command=tuple(sys.argv), differential=differential, wizard=wizard,
                          operator_done=operator_done, operator_timeout=operator_timeout)
    reporter = Reporter()
    reporter.line(f"[bold]devicelab gate[/] {build}" + (f" (update from {from_build})" if from_build else ""))
    # SIGTERM (a CI job cancelled) stops the run like Ctrl-C: reports written, evidence kept, exit 130
    signal.signal(signal.SIGTERM, _interrupt)
    written = run_gate(options, reporter)
    run = read_run(written.verdict)  # as written: scrubbed of every identifier the run met
    outcome = run.outcome
    reporter.line(f"\nverdict: [{VERDICT_STYLE[outcome]}]{outcome.upper()}[/]  (exit {run.exit_code})")
    for result in run.handsets:
        # one line per distinct (host, identifier): the same IMEI in 14 flows is one leak, seen 14 times
        leaks: dict[tuple[str, str, str], tuple[set[str], set[int]]] = {}
        for v in result.violations:
            rules, flows = leaks.setdefault((v.host, v.kind, v.identifier), (set(), set()))
            rules.add(v.rule_type)
            flows.add(v.flow_index)
        for (host, kind, identifier), (rules, flows) in list(leaks.items())[:10]:
            what = f"{kind} {identifier}" if kind else "(contact)"
            seen = f"  ({len(flows)} flows)" if len(flows) > 1 else ""
            reporter.line(f"  {result.handset.id}: {host}  {what}  {', '.join(sorted(rules))}{seen}")
        if len(leaks) > 10:
            reporter.line(f"  ... and {len(leaks) - 10} more")
        for gap in result.coverage.counted_gaps[:5]:
            reporter.line(f"  {result.handset.id}: not seen: {gap.kind} {gap.host} {gap.detail}")
    if run.interrupted:
        reporter.line(f"  [bold]interrupted[/]: {run.interrupted}")
    for error in run.infra_errors:
        where = f" at {error.step}" if error.step and error.step != "lab" else ""
        reporter.line(f"  lab error: {error.handset or 'lab'}{where}: {error.message}")
    reporter.line(f"report: {written.html}\nverdict.json: {written.verdict}\njunit: {written.junit}")
    if written.allure_report is not None:
        reporter.line(f"allure: {written.allure_report}")
    sys.exit(run.exit_code)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)
