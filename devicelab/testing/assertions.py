"""The assertion suites make about a capture: no personal data to a host the policy forbids, and
nothing left unseen. Its failure message is the table a privacy engineer reads first."""

from __future__ import annotations

import allure

from devicelab.analysis.findings import Finding
from devicelab.analysis.scan import ScanReport
from devicelab.capture.session import HandsetCapture
from devicelab.model.identity import Identity
from devicelab.model.policy import Policy

COLUMNS = ("host", "identifier", "where", "decoders", "app", "rule")


class PrivacyViolation(AssertionError):
    """Personal data left the handset for a host the policy does not allow."""


class CoverageIncomplete(AssertionError):
    """The capture could not see everything: the test cannot pass (inconclusive)."""


def assert_no_personal_data_leaks(capture: HandsetCapture, identity: Identity, policy: Policy) -> ScanReport:
    """Analyse everything `capture` saw; raise with a readable table on any violation, and
    refuse to pass when coverage was incomplete. A leak seen once is a finding: never retried.
    The capture is stopped first, so the evidence is complete and flushed."""
    with allure.step(f"judge the capture by policy {policy.name}"):
        report = capture.judge(identity, policy)  # the run's report lists it, pass or fail
    verdict = report.verdict
    if verdict.violations:
        # one row per place an identifier went, its broken rules together (not a row per rule)
        rules: dict[tuple[str, ...], list[str]] = {}
        for v in verdict.violations:
            rules.setdefault(_row(v.finding, v.host), []).append(v.rule.split(":")[0])
        rows = [(*row, ", ".join(dict.fromkeys(broken))) for row, broken in rules.items()]
        leaks = len({(row[0], row[1]) for row in rules})
        raise PrivacyViolation(f"{leaks} leak(s) against policy {policy.name!r} (host and identifier), in "
                               f"{len(rows)} place(s):\n{_table(rows)}")
    if verdict.counted_gaps:
        lines = "\n".join(f"  {g.kind}: {g.host or '-'} {g.detail}" for g in verdict.counted_gaps)
        raise CoverageIncomplete(f"inconclusive: the capture could not see everything\n{lines}")
    return report


def _row(finding: Finding | None, host: str) -> tuple[str, ...]:
    if finding is None:
        return (host, "-", "(contact)", "-", "-")
    return (host, f"{finding.kind} {finding.redacted}", finding.location, " > ".join(finding.decoders) or "-",
            finding.app or "?")


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(r[i])) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [COLUMNS, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
