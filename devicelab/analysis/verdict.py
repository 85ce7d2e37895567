"""The verdict: findings judged by a policy, with what the capture could not see taken into account.

    fail          a violation: an identifier where the policy does not allow it, or a forbidden
                  host contacted at all
    inconclusive  no violation, but coverage was incomplete (a gap): TLS to an unapproved host
                  that could not be decrypted, a capture that stopped early, a failed canary,
                  connections that bypassed the proxy. Never counts as a pass.
    pass          no violation and full coverage
Fail outranks inconclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from devicelab.analysis.findings import Finding
from devicelab.model.outcome import EXIT_CODES, Outcome, judge
from devicelab.model.policy import Policy
from devicelab.model.traffic import CoverageGap, Flow


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule broken: by a finding, or (finding None) by contacting a forbidden host."""

    rule: str
    host: str
    source: str
    flow_index: int
    finding: Finding | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "host": self.host,
            "source": self.source,
            "flow_index": self.flow_index,
            "finding": self.finding.to_dict() if self.finding else None,
        }


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    violations: tuple[Violation, ...]
    gaps: tuple[CoverageGap, ...]  # every gap reported
    counted_gaps: tuple[CoverageGap, ...]  # the gaps that make the run inconclusive

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


def gap_counts(gap: CoverageGap, policy: Policy) -> bool:
    """What went unseen to a host the policy approves (TLS left closed, a connection around the
    proxy) cannot hide a violation of that host's rules; to any other host, or unnamed, it can."""
    if gap.kind in ("tls_undecrypted", "unproxied_connection") and gap.host:
        return not policy.is_approved(gap.host)
    return True


def evaluate(findings: Iterable[Finding], flows: Sequence[Flow], gaps: Iterable[CoverageGap],
             policy: Policy) -> Verdict:
    """Judge findings and contacts by `policy`, then let coverage gaps downgrade a pass.

    A flow goes by every name it has (the client's SNI and Host, the real destination): each
    finding is judged under each of them, so the strictest rule applies, and any of them being
    forbidden is a contact with a forbidden host. So is a connection around the proxy to one."""
    by_flow = {(flow.source, flow.index): flow for flow in flows}
    violations: list[Violation] = []
    flows_with_findings: set[tuple[str, int]] = set()
    for finding in findings:
        key = (finding.source, finding.flow_index)
        flows_with_findings.add(key)
        flow = by_flow.get(key)
        names = _names(finding.host, flow)
        seen: set[str] = set()
        for name in names:
            for rule in policy.judge(finding.kind, name, finding.tls):
                if rule not in seen:
                    seen.add(rule)
                    violations.append(Violation(rule, name, finding.source, finding.flow_index, finding))
    for flow in flows:
        for name in _names(flow.host, flow):
            forbidden = policy.forbidden_rule(name)
            if forbidden is not None and (flow.source, flow.index) not in flows_with_findings:
                violations.append(Violation(f"forbidden-host: {forbidden.host} ({forbidden.reason})", name,
                                            flow.source, flow.index))
                break
    all_gaps = tuple(gaps)
    for gap in all_gaps:
        forbidden = policy.forbidden_rule(gap.host) if gap.kind == "unproxied_connection" and gap.host else None
        if forbidden is not None:  # contact alone breaks the rule, whatever path it took
            violations.append(Violation(f"forbidden-host: {forbidden.host} ({forbidden.reason}), reached around "
                                        "the proxy", gap.host, gap.source, -1))
    counted = tuple(gap for gap in all_gaps if gap_counts(gap, policy))
    outcome = judge(violations=bool(violations), gaps=bool(counted))
    return Verdict(outcome, tuple(violations), all_gaps, counted)


def _names(host: str, flow: Flow | None) -> tuple[str, ...]:
    if flow is None:
        return (host,)
    names = flow.names
    return names if host in names else (host, *names)
