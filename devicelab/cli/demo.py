"""`make demo`: the privacy gate on the embedded virtual lab — the 2019 Nokia 7 Plus batch that
sent IMEI, ICCID, IMSI, cell ID and Wi-Fi MAC to zzhc.vnet.cn, and the February 2019 fix."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from devicelab import progress
from devicelab.capture.gateway import privilege
from devicelab.gate import GateOptions, run_gate
from devicelab.model.inventory import Mode
from devicelab.progress import Reporter
from devicelab.reports.html import reasons

BUILDS = ("nokia7plus-00WW_3_22C", "nokia7plus-00WW_3_22C_SP05")
STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow", "error": "bold magenta"}


@click.command("demo")
def demo() -> None:
    """Gate the 2019 leaky build and its fix on the embedded virtual lab, side by side."""
    run_demo()


def run_demo(out: Path = Path("reports/demo")) -> None:
    console = progress.make_console()
    reporter = Reporter(console)
    # behind the lab gateway every connection is read, from power-on; without the capability the
    # regular capture runs, and the fixed build is inconclusive where a daemon goes around the proxy
    capture: Mode | None = None if privilege.missing() else "gateway"
    how = "gateway capture" if capture else "regular capture (no CAP_NET_ADMIN for the gateway)"
    table = Table(title=f"devicelab gate on the embedded virtual lab (Telenor SIM, decline all, {how})")
    for column in ("build", "verdict", "what reached a forbidden host", "why not a pass", "report"):
        table.add_column(column)
    for build in BUILDS:
        console.rule(f"gate {build}")
        written = run_gate(GateOptions(build=build, sim="telenor-no", out=out / build, force=True, window=900,
                                       capture=capture, command=("devicelab", "demo")), reporter)
        run = written.run
        leaked = sorted({f"{v.kind} -> {v.host}" for r in run.handsets for v in r.violations if v.kind})
        # an inconclusive run says what went unseen
        why = "\n".join(reasons(run)) if run.outcome == "inconclusive" else "-"
        table.add_row(build, f"[{STYLE[run.outcome]}]{run.outcome.upper()}[/]", "\n".join(leaked) or "-", why,
                      str(written.html))
    console.print(table)
    console.print("Open the HTML reports in a browser; verdict.json, junit.xml and allure-results sit beside them.")
