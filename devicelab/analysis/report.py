"""A scan report as a table for people (machines read verdict.json: devicelab.reports.verdict_json).
Identifiers are always redacted."""

from __future__ import annotations

from devicelab.analysis.decoders import render
from devicelab.analysis.scan import ScanReport


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def to_text(report: ScanReport) -> str:
    verdict = report.verdict
    lines = [f"verdict: {verdict.outcome.upper()}   (policy: {report.policy.name})"]
    # several captures number their flows alike: a flow is then named by its capture's number too ("2:5")
    numbers = {c.source: n for n, c in enumerate(report.captures, 1)} if len(report.captures) > 1 else {}

    def flow_name(source: str, index: int) -> str:
        return f"{numbers[source]}:{index}" if source in numbers else str(index)

    for n, c in enumerate(report.captures, 1):
        lines.append(f"capture{f' {n}' if numbers else ''}: {c.source}  {c.format}, {len(c.flows)} flows"
                     + (f"  [{c.error}]" if c.error else ""))
    if report.missing_kinds:
        lines.append(f"not searched (the identity has none): {', '.join(report.missing_kinds)}")
    rows = [("HOST", "KIND", "WHERE", "DECODERS", "APP", "FLOW")]
    for f in report.findings:
        rows.append((_cut(f.host, 32), f.kind, _cut(f.location, 60), " > ".join(f.decoders) or "-", f.app or "-",
                     f"{flow_name(f.source, f.flow_index)}{'' if f.tls else ' (plain)'}"))
    lines.append("")
    if len(rows) == 1:
        lines.append("no identifier found")
    else:
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if verdict.violations:
        lines += ["", "violations:"]
        for v in verdict.violations:
            what = f"{v.finding.kind} {v.finding.redacted}" if v.finding else "contact"
            lines.append(f"  {v.rule}: {what} -> {v.host} (flow {v.flow_index} of {v.source})")
    if verdict.gaps:
        lines += ["", "coverage gaps:"]
        reasons = dict(verdict.accepted)
        for g in verdict.gaps:
            counted = ("" if g in verdict.counted_gaps else
                       f" (accepted blind spot: {reasons[g]})" if g in reasons else " (moot: not counted)")
            lines.append(f"  {g.kind}: {g.detail}" + (f" [{g.host}]" if g.host else "") + counted)
    notes = [(a, n) for a in report.analyses for n in a.notes]
    if notes:
        lines += ["", "not fully decoded:"]
        lines += [f"  flow {flow_name(a.flow.source, a.flow.index)} {a.flow.host} {render(n.where)}: "
                  f"{n.decoder}: {n.problem}" for a, n in notes]
    return "\n".join(lines)
