"""The verdict: findings judged by a policy, with what the capture could not see taken into account.

    fail          a violation: an identifier where the policy does not allow it, or a forbidden
                  host contacted at all
                  (by any path: a flow, or a connection around the proxy)
    inconclusive  no violation, but coverage was incomplete (a gap): TLS that could not be
                  decrypted, connections that bypassed the proxy, a body cut short or a decode
                  limit reached (to any host, approved ones included), a capture that stopped
                  early, a failed canary, an identifier that could not be read. Never a pass.
    pass          no violation and full coverage
Fail outranks inconclusive. The one exception to "unread is a gap": a policy rule that accepts the
host's blind traffic by name (`accept_blind: "<reason>"`); such gaps are listed apart, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from devicelab.analysis.findings import Finding
from devicelab.model.outcome import EXIT_CODES, Outcome, judge
from devicelab.model.policy import Policy
from devicelab.model.traffic import BLIND_KINDS, CoverageGap, Flow


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
    #: blind spots the policy accepts by name: (gap, the rule's reason)
    accepted: tuple[tuple[CoverageGap, str], ...] = ()

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


def accepted_reason(gap: CoverageGap, policy: Policy) -> str | None:
    """The policy's reason for accepting this blind spot, or None: it counts."""
    if gap.kind in BLIND_KINDS and gap.host:
        return policy.blind_accepted(gap.host)
    return None


def gap_counts(gap: CoverageGap, policy: Policy) -> bool:
    """Unread traffic could carry anything, to an approved host as much as to any other: every gap
    counts unless the host's rule accepts its blind traffic by name."""
    return accepted_reason(gap, policy) is None


def split_gaps(gaps: Sequence[CoverageGap], policy: Policy
               ) -> tuple[tuple[CoverageGap, ...], tuple[tuple[CoverageGap, str], ...]]:
    """(counted gaps, accepted blind spots with their reasons). The CA's state counts only when TLS
    went unread to a host whose blind traffic is not accepted: it is why that TLS stayed closed."""
    counted: list[CoverageGap] = []
    accepted: list[tuple[CoverageGap, str]] = []
    for gap in gaps:
        reason = accepted_reason(gap, policy)
        if reason is None:
            counted.append(gap)
        else:
            accepted.append((gap, reason))
    if not any(g.kind == "tls_undecrypted" for g in counted):
        counted = [g for g in counted if g.kind != "ca_not_installed"]
    return tuple(counted), tuple(accepted)


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
        seen: set[str] = set()
        for name in _names(finding.host, flow):
            for rule in policy.judge(finding.kind, name, finding.tls):
                if rule not in seen:
                    seen.add(rule)
                    violations.append(Violation(rule, name, finding.source, finding.flow_index, finding))
    contacted: set[str] = set()
    for flow in flows:
        for name in _names(flow.host, flow):
            forbidden = policy.forbidden_rule(name)
            if forbidden is not None:
                contacted.add(name)
                if (flow.source, flow.index) not in flows_with_findings:
                    violations.append(Violation(f"forbidden-host: {forbidden.host} ({forbidden.reason})", name,
                                                flow.source, flow.index))
                break
    all_gaps = tuple(gaps)
    # contact alone fails: a forbidden host reached around the proxy is as reached as through it
    for gap in all_gaps:
        forbidden = policy.forbidden_rule(gap.host) if gap.kind in BLIND_KINDS and gap.host else None
        if forbidden is not None and gap.host not in contacted:
            contacted.add(gap.host)
            violations.append(Violation(f"forbidden-host: {forbidden.host} ({forbidden.reason}), reached around "
                                        f"the proxy ({gap.kind})", gap.host, gap.source, -1))
    counted, accepted = split_gaps(all_gaps, policy)
    outcome = judge(violations=bool(violations), gaps=bool(counted))
    return Verdict(outcome, tuple(violations), all_gaps, counted, accepted)


def _names(host: str, flow: Flow | None) -> tuple[str, ...]:
    if flow is None:
        return (host,)
    names = flow.names
    return names if host in names else (host, *names)
