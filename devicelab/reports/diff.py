"""What changed in what the handsets send, between two runs (usually: two builds).

    hosts      contacted in one run and not the other
    pairs      (host, identifier kind): personal data a host received in one run and not the other
    transport  per host: TLS only, plain only, or mixed; TLS -> plain is a downgrade

A new pair fails a gate even where the policy is silent (`new_pairs`): a new flow of personal
data is a change a privacy officer signs off, whatever the policy says today.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from devicelab.model.policy import DERIVED_KIND, normalize_host
from devicelab.model.outcome import Outcome
from devicelab.reports.model import RunRecord

#: how a differential gate run's record says it was one (a run-level note)
DIFFERENTIAL_NOTE = "differential:"

Transport = Literal["tls", "plain", "mixed"]
_LABEL: dict[Transport, str] = {"tls": "TLS", "plain": "plain", "mixed": "TLS + plain"}


@dataclass(frozen=True, order=True)
class Pair:
    """Personal data of one kind reaching one host."""

    host: str
    kind: str


@dataclass
class PairDetail:
    """How a pair showed up in a run: apps, places, transports, flows."""

    apps: set[str] = field(default_factory=set)
    locations: set[str] = field(default_factory=set)
    transports: set[bool] = field(default_factory=set)  # tls flags seen
    flows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"apps": sorted(self.apps), "locations": sorted(self.locations),
                "transport": _LABEL[transport_of(self.transports)], "flows": self.flows}


@dataclass(frozen=True)
class TransportChange:
    host: str
    before: Transport
    after: Transport

    @property
    def downgrade(self) -> bool:
        """Plain text where there was none."""
        return self.before == "tls" and self.after != "tls"

    @property
    def direction(self) -> Literal["downgrade", "upgrade", "changed"]:
        if self.downgrade:
            return "downgrade"
        return "upgrade" if self.after == "tls" else "changed"

    @property
    def label(self) -> str:
        return f"{_LABEL[self.before]} → {_LABEL[self.after]}"


@dataclass(frozen=True)
class RunSide:
    run_id: str
    build: str
    fingerprint: str
    outcome: Outcome


@dataclass(frozen=True)
class RunDiff:
    baseline: RunSide
    run: RunSide
    hosts_added: tuple[str, ...]
    hosts_removed: tuple[str, ...]
    pairs_added: tuple[Pair, ...]
    pairs_removed: tuple[Pair, ...]
    transport_changes: tuple[TransportChange, ...]
    details: dict[Pair, PairDetail]  # of added pairs (from the run) and removed ones (from the baseline)
    #: what differs between the two runs besides the build: a different policy or consent explains
    #: pairs that come and go, so the diff says so first
    caveats: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 when no new pair appeared, 1 when one did."""
        return 1 if self.pairs_added else 0

    @property
    def unchanged(self) -> bool:
        return not (self.hosts_added or self.hosts_removed or self.pairs_added or self.pairs_removed
                    or self.transport_changes)


def transport_of(flags: Iterable[bool]) -> Transport:
    seen = set(flags)
    return "mixed" if len(seen) > 1 else "tls" if seen == {True} else "plain"


def pair_details(run: RunRecord) -> dict[Pair, PairDetail]:
    details: dict[Pair, PairDetail] = {}
    for result in run.handsets:
        flows: dict[Pair, set[tuple[str, int]]] = {}
        for f in result.findings:
            pair = Pair(normalize_host(f.host), f.kind)
            detail = details.setdefault(pair, PairDetail())
            detail.apps.add(f.app or "(app unknown)")
            detail.locations.add(f.location)
            detail.transports.add(f.tls)
            flows.setdefault(pair, set()).add((f.source, f.flow_index))
        for pair, seen in flows.items():
            details[pair].flows += len(seen)
    return details


def pairs(run: RunRecord) -> set[Pair]:
    """Every (host, kind) that carried personal data in the run, over all handsets."""
    return set(pair_details(run))


def new_pairs(baseline: RunRecord, run: RunRecord) -> list[Pair]:
    """(host, kind) pairs in `run` that `baseline` did not have: for a gate that fails on them.
    `identity_derived` pairs count only against a differential baseline (another run cannot see them)."""
    fresh = pairs(run) - pairs(baseline)
    if not is_differential(baseline):
        fresh = {p for p in fresh if p.kind != DERIVED_KIND}
    return sorted(fresh)


def is_differential(run: RunRecord) -> bool:
    """Whether the run compared handsets (gate --differential): only such a run finds `identity_derived`."""
    return any(note.startswith(DIFFERENTIAL_NOTE) for note in run.notes)


def transports(run: RunRecord) -> dict[str, Transport]:
    """Each host contacted, and whether it was reached over TLS, plain text, or both."""
    seen: dict[str, set[bool]] = {}
    for result in run.handsets:
        for group in result.flows:
            seen.setdefault(normalize_host(group.host), set()).add(group.tls)
        for f in result.findings:
            seen.setdefault(normalize_host(f.host), set()).add(f.tls)
    return {host: transport_of(flags) for host, flags in seen.items()}


def _side(run: RunRecord) -> RunSide:
    return RunSide(run.run_id, run.build.name, run.build.fingerprint, run.outcome)


def diff_runs(baseline: RunRecord, run: RunRecord) -> RunDiff:
    before, after = transports(baseline), transports(run)
    old, new = pair_details(baseline), pair_details(run)
    added = tuple(sorted(set(new) - set(old)))
    removed = tuple(sorted(set(old) - set(new)))
    changes = tuple(TransportChange(host, before[host], after[host])
                    for host in sorted(set(before) & set(after)) if before[host] != after[host])
    return RunDiff(
        baseline=_side(baseline), run=_side(run),
        hosts_added=tuple(sorted(set(after) - set(before))), hosts_removed=tuple(sorted(set(before) - set(after))),
        pairs_added=added, pairs_removed=removed, transport_changes=changes,
        details={**{p: old[p] for p in removed}, **{p: new[p] for p in added}},
        caveats=caveats(baseline, run),
    )


def caveats(baseline: RunRecord, run: RunRecord) -> tuple[str, ...]:
    """What makes the two runs differ besides the build under test."""
    notes = []
    a, b = baseline.policy, run.policy
    if (a.name, a.sha256) != (b.name, b.sha256):
        notes.append(f"different policies: {a.name} {a.sha256[:12] or '(no hash)'} vs {b.name} "
                     f"{b.sha256[:12] or '(no hash)'}")
    choices_a = {c.name.split(": ", 1)[-1]: c.choice for c in baseline.consent}
    choices_b = {c.name.split(": ", 1)[-1]: c.choice for c in run.consent}
    if choices_a != choices_b:
        notes.append("different consent choices in the setup wizard: "
                     + ", ".join(f"{k} {choices_a.get(k, '-')}→{choices_b.get(k, '-')}"
                                 for k in sorted(set(choices_a) | set(choices_b))
                                 if choices_a.get(k) != choices_b.get(k)))
    if is_differential(baseline) != is_differential(run):
        notes.append(f"only the {'baseline' if is_differential(baseline) else 'run'} was differential: "
                     f"{DERIVED_KIND} pairs of one and not the other say nothing about the build")
    if (baseline.observation_seconds or 0) != (run.observation_seconds or 0):
        notes.append(f"different observation windows: {baseline.observation_seconds or 0:.0f} vs "
                     f"{run.observation_seconds or 0:.0f} device seconds")
    return tuple(notes)


def to_dict(diff: RunDiff) -> dict[str, Any]:
    def side(s: RunSide) -> dict[str, Any]:
        return {"run_id": s.run_id, "build": s.build, "fingerprint": s.fingerprint, "outcome": s.outcome}

    def pair(p: Pair) -> dict[str, Any]:
        return {"host": p.host, "kind": p.kind, **diff.details[p].to_dict()}

    return {
        "baseline": side(diff.baseline), "run": side(diff.run), "exit_code": diff.exit_code,
        "caveats": list(diff.caveats),
        "hosts_added": list(diff.hosts_added), "hosts_removed": list(diff.hosts_removed),
        "pairs_added": [pair(p) for p in diff.pairs_added], "pairs_removed": [pair(p) for p in diff.pairs_removed],
        "transport_changes": [{"host": c.host, "before": c.before, "after": c.after, "direction": c.direction}
                              for c in diff.transport_changes],
    }


def to_text(diff: RunDiff) -> str:
    a, b = diff.baseline, diff.run
    lines = [f"baseline: {a.build} (run {a.run_id}, {a.outcome})", f"run:      {b.build} (run {b.run_id}, {b.outcome})",
             ""]
    lines += [f"caution: {note}" for note in diff.caveats] + ([""] if diff.caveats else [])
    if diff.unchanged:
        return "\n".join([*lines, "no change: the same hosts received the same kinds of personal data"])
    lines.append(f"NEW personal data flows: {len(diff.pairs_added)}" if diff.pairs_added
                 else "no new personal data flow")

    def pair_line(sign: str, p: Pair) -> str:
        d = diff.details[p]
        kind = f"{p.kind} (follows the identity, encoding unknown)" if p.kind == DERIVED_KIND else p.kind
        return (f"  {sign} {p.host}  {kind}  [{_LABEL[transport_of(d.transports)]}; {', '.join(sorted(d.apps))}; "
                f"{'; '.join(sorted(d.locations)[:3])}{'; …' if len(d.locations) > 3 else ''}]")

    for title, sign, items in (("new (host, identifier) pairs:", "+", diff.pairs_added),
                               ("gone (host, identifier) pairs:", "-", diff.pairs_removed)):
        if items:
            lines += ["", title, *(pair_line(sign, p) for p in items)]
    for title, sign, hosts in (("new hosts:", "+", diff.hosts_added), ("hosts no longer contacted:", "-",
                                                                       diff.hosts_removed)):
        if hosts:
            lines += ["", title, *(f"  {sign} {h}" for h in hosts)]
    if diff.transport_changes:
        lines += ["", "transport changes:"]
        lines += [f"  {'!' if c.downgrade else ' '} {c.host}: {c.label}" for c in diff.transport_changes]
    return "\n".join(lines)
