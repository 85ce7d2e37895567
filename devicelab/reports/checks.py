"""The checks a run reports, per handset: what JUnit testcases and Allure test results are made of.

    privacy: no unapproved personal data     failed by a violation carrying a finding
    privacy: no forbidden host contacted     failed by any forbidden-host violation
    coverage: all traffic inspected          inconclusive when a counted coverage gap exists; its
                                             details list the blind spots the policy accepts, with why
    identity: handset and lab agree          only when they do not: passed, its message the warnings
    lab: <step>                              one per infrastructure error (or failed step)

A check on a handset whose capture was never analysed is "not judged" (an error). Messages start
with a fixed word (LEAK, FORBIDDEN HOST, INCONCLUSIVE, NOT JUDGED, LAB) that Allure's categories match.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from devicelab.reports.model import HandsetResult, RunRecord, Step, ViolationRecord

CheckStatus = Literal["passed", "failed", "inconclusive", "error"]
PERSONAL_DATA = "privacy: no unapproved personal data"
FORBIDDEN_HOSTS = "privacy: no forbidden host contacted"
COVERAGE = "coverage: all traffic inspected"
IDENTITY = "identity: handset and lab agree"
RUN_SCOPE = "run"  # the "handset" of checks about the whole run (a lease that never came)


@dataclass(frozen=True)
class Check:
    """One check on one handset (or on the run), decided."""

    id: str  # stable across builds: "personal-data", "forbidden-hosts", "coverage", "lab:<step>"
    name: str
    handset: str
    status: CheckStatus
    message: str = ""  # one line
    details: str = ""  # a readable table
    violations: tuple[ViolationRecord, ...] = ()
    findings: tuple[int, ...] = field(default=())  # indexes into the handset's findings
    steps: tuple[Step, ...] = ()
    infra_type: str = ""


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned text columns; the first row is the header."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def violation_table(result: HandsetResult, violations: Sequence[ViolationRecord]) -> str:
    """One row per identifier and place (flows counted, broken rules joined), then what each rule says."""
    rows: dict[tuple[str, ...], tuple[set[str], set[tuple[str, int]]]] = {}
    for v in violations:
        f = result.findings[v.finding] if v.finding is not None else None
        key = (v.kind or "(contact)", v.identifier or "-", _cut(v.host, 40), _cut(f.location, 50) if f else "-",
               ("TLS" if f.tls else "plain") if f else "-", (f.app or "-") if f else "-")
        rules, flows = rows.setdefault(key, (set(), set()))
        rules.add(v.rule_type)
        flows.add((v.source, v.flow_index))
    lines: list[tuple[str, ...]] = [("KIND", "VALUE", "HOST", "WHERE", "TRANSPORT", "APP", "FLOWS", "BROKEN RULES")]
    lines += [(*key, str(len(flows)), ", ".join(sorted(rules))) for key, (rules, flows) in rows.items()]
    said = sorted({v.rule for v in violations})
    return table(lines) + "\n\nrules:\n" + "\n".join(f"  {rule}" for rule in said)


def _reason(rule: str) -> str:
    """'forbidden-host: zzhc.vnet.cn (China Telecom ...)' -> 'China Telecom ...'."""
    match = re.search(r"\((.*)\)\s*$", rule)
    return match.group(1) if match else rule.partition(": ")[2]


def _summary(violations: Sequence[ViolationRecord]) -> str:
    by_host: dict[str, Counter[str]] = {}
    for v in violations:
        by_host.setdefault(v.host, Counter())[v.kind or "contact"] += 1
    return "; ".join(f"{', '.join(sorted(kinds))} → {host}" for host, kinds in sorted(by_host.items()))


def handset_checks(run: RunRecord, result: HandsetResult) -> list[Check]:
    hid = result.handset.id
    steps = run.steps_of(hid)
    if not result.judged:
        why = "NOT JUDGED: no capture of this handset was analysed (see the lab checks)"
        return [Check(cid, name, hid, "error", why, steps=steps)
                for cid, name in (("personal-data", PERSONAL_DATA), ("forbidden-hosts", FORBIDDEN_HOSTS),
                                  ("coverage", COVERAGE))]
    leaks = tuple(v for v in result.violations if v.finding is not None)
    unique_leaks = {(v.kind, v.identifier, v.host) for v in leaks}
    forbidden = tuple(v for v in result.violations if v.rule_type == "forbidden-host")
    gaps = result.coverage.counted_gaps
    checks = [
        Check("personal-data", PERSONAL_DATA, hid, "failed" if leaks else "passed",
              f"LEAK: {len(unique_leaks)} identifier(s) reached hosts the policy does not allow: {_summary(leaks)}"
              if leaks else "", violation_table(result, leaks) if leaks else "", leaks,
              tuple(sorted({v.finding for v in leaks if v.finding is not None})), steps),
        Check("forbidden-hosts", FORBIDDEN_HOSTS, hid, "failed" if forbidden else "passed",
              f"FORBIDDEN HOST: {', '.join(sorted({v.host for v in forbidden}))} contacted: "
              f"{_reason(forbidden[0].rule)}" if forbidden else "",
              violation_table(result, forbidden) if forbidden else "", forbidden,
              tuple(sorted({v.finding for v in forbidden if v.finding is not None})), steps),
    ]
    accepted = result.coverage.accepted_blind
    blind = ("\n\naccepted blind spots (the policy accepts them by name):\n"
             + table([("GAP", "HOST", "REASON"), *((a.kind, a.host, _cut(a.reason, 100)) for a in accepted)])
             if accepted else "")
    if gaps:
        kinds = Counter(g.kind for g in gaps)
        message = (f"INCONCLUSIVE: {len(gaps)} coverage gap(s): "
                   + ", ".join(f"{kind} ×{n}" for kind, n in sorted(kinds.items()))
                   + " — traffic that was not inspected may hide personal data")
        details = table([("GAP", "HOST", "DETAIL", "SOURCE"),
                         *((g.kind, g.host or "-", _cut(g.detail, 80), _cut(g.source, 60)) for g in gaps)])
        checks.append(Check("coverage", COVERAGE, hid, "inconclusive", message, details + blind, steps=steps))
    elif accepted:
        hosts = ", ".join(sorted({a.host for a in accepted}))
        checks.append(Check("coverage", COVERAGE, hid, "passed",
                            f"ACCEPTED BLIND: {len(accepted)} blind spot(s) the policy accepts: {hosts}",
                            blind.strip(), steps=steps))
    else:
        checks.append(Check("coverage", COVERAGE, hid, "passed", steps=steps))
    if result.identity_warnings:
        checks.append(Check("identity", IDENTITY, hid, "passed",
                            f"IDENTITY WARNING: {len(result.identity_warnings)} identifier(s) where the handset and "
                            "the lab disagree (both searched)", "\n".join(result.identity_warnings), steps=steps))
    return checks


def lab_checks(run: RunRecord) -> list[Check]:
    """One error check per infrastructure error, and per failed step that no error explains."""
    checks: list[Check] = []
    explained: set[tuple[str, str]] = set()
    for error in run.infra_errors:
        step = error.step or error.type
        explained.add((error.handset, step))
        took = tuple(s for s in run.timeline if s.handset == error.handset and s.name == error.step)
        checks.append(Check(f"lab:{step}", f"lab: {step}", error.handset or RUN_SCOPE, "error",
                            f"LAB: {error.type}: {error.message}", error.traceback, steps=took,
                            infra_type=error.type))
    for failed in run.timeline:
        if failed.status == "failed" and (failed.handset, failed.name) not in explained:
            explained.add((failed.handset, failed.name))
            checks.append(Check(f"lab:{failed.name}", f"lab: {failed.name}", failed.handset or RUN_SCOPE, "error",
                                f"LAB: step failed: {failed.message or failed.name}", steps=(failed,),
                                infra_type="StepFailed"))
    return checks


def run_checks(run: RunRecord) -> list[Check]:
    """Every check of the run: per handset, then the lab's."""
    checks = [check for result in run.handsets for check in handset_checks(run, result)]
    return checks + lab_checks(run)
