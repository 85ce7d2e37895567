"""The destinations table (after Leith's handset studies): one row per destination a handset
contacted, from the gateway's reconciled connection table, or from the flows where there is none.

Columns: host and IP, protocol and ports, connections, bytes up and down, first contact (seconds
after the handset's first packet), median interval between contacts, identifiers found there,
approved by the policy or not, and how much of it was seen: `read` (every connection read),
`opaque` (at least one connection, or TLS, nobody could read) or `accepted blind` (only what the
policy accepts unread).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from devicelab.model.policy import Policy
from devicelab.model.traffic import Flow
from devicelab.reports.model import DestinationRecord, FindingRecord, Seen

READ_ACCOUNTS = frozenset({"read", "packet", "dns", "udp", "quic"})


def from_connections(rows: Sequence[Mapping[str, Any]], findings: Iterable[FindingRecord], policy: Policy,
                     flows: Iterable[Flow] = ()) -> tuple[DestinationRecord, ...]:
    """The table from the gateway's reconciled rows (accounting.reconcile). DNS queries are their own
    destination: the resolver, named by the names asked of it."""
    undecrypted = {f.id for f in flows if f.undecrypted_tls}
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        remote_ip, _, port = str(row["remote"]).rpartition(":")
        protocol = "dns" if row.get("account") == "dns" else str(row["proto"])
        groups.setdefault((str(row.get("host") or remote_ip), remote_ip, protocol), []).append(row)
    start = min((float(r["first"]) for r in rows), default=0.0)
    kinds = _kinds(findings, by_protocol=True)
    table = []
    for (host, ip, protocol), group in sorted(groups.items(), key=lambda kv: min(float(r["first"]) for r in kv[1])):
        firsts = sorted(float(r["first"]) for r in group)
        opaque = any(r.get("account") not in READ_ACCOUNTS or set(r.get("flows") or ()) & undecrypted for r in group)
        seen, reason = _seen(host, opaque, policy)
        table.append(DestinationRecord(
            host=host, ip=ip, protocol=protocol,
            ports=tuple(sorted({int(str(r["remote"]).rpartition(":")[2] or 0) for r in group})),
            connections=len(group), bytes_up=sum(int(r["bytes_up"]) for r in group),
            bytes_down=sum(int(r["bytes_down"]) for r in group), first_contact_s=round(firsts[0] - start, 3),
            median_interval_s=_median_gap(firsts),
            identifiers=tuple(sorted(kinds.get(f"{host} {_carrier(protocol)}", ()))),
            approved=policy.is_approved(host), seen=seen, blind_reason=reason))
    return tuple(table)


def from_flows(flows: Iterable[Flow], findings: Iterable[FindingRecord], policy: Policy) -> tuple[
        DestinationRecord, ...]:
    """Without a gateway: what the proxy read (no packet bytes down, no DNS but its own)."""
    groups: dict[tuple[str, str], list[Flow]] = {}
    for flow in flows:
        groups.setdefault((flow.host, flow.protocol), []).append(flow)
    stamps = [f.timestamp for f in [x for g in groups.values() for x in g] if f.timestamp is not None]
    start = min(stamps, default=0.0)
    kinds = _kinds(findings)
    table = []
    for (host, protocol), group in sorted(groups.items()):
        times = sorted(f.timestamp for f in group if f.timestamp is not None)
        seen, reason = _seen(host, any(f.undecrypted_tls for f in group), policy)
        table.append(DestinationRecord(
            host=host, ip=next((f.request.address for f in group if f.request.address), ""), protocol=protocol,
            ports=tuple(sorted({f.request.port for f in group if f.request.port})), connections=len(group),
            bytes_up=sum(len(f.request.content) for f in group), bytes_down=0,
            first_contact_s=round(times[0] - start, 3) if times else None, median_interval_s=_median_gap(times),
            identifiers=tuple(sorted(kinds.get(host, ()))), approved=policy.is_approved(host),
            seen=seen, blind_reason=reason))
    return tuple(sorted(table, key=lambda d: (d.first_contact_s is None, d.first_contact_s or 0.0, d.host)))


def _seen(host: str, opaque: bool, policy: Policy) -> tuple[Seen, str]:
    """read; opaque (a counted gap); or accepted blind: unread, but the policy accepts it by name
    (the same rule `analysis.verdict.split_gaps` applies to that host's gaps)."""
    if not opaque:
        return "read", ""
    reason = policy.blind_accepted(host)
    return ("accepted blind", reason) if reason is not None else ("opaque", "")


def _kinds(findings: Iterable[FindingRecord], *, by_protocol: bool = False) -> dict[str, set[str]]:
    """host (and, by_protocol, the carrier: `host tcp`, `host udp`, `host dns`) -> identifier kinds."""
    kinds: dict[str, set[str]] = {}
    for finding in findings:
        key = f"{finding.host} {_carrier(finding.protocol)}" if by_protocol else finding.host
        kinds.setdefault(key, set()).add(finding.kind)
    return kinds


def _carrier(protocol: str) -> str:
    """HTTP rides on a TCP connection of the table; DNS and other UDP are their own rows."""
    return "tcp" if protocol in ("http", "tcp", "") else protocol


def _median_gap(times: Sequence[float]) -> float | None:
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    return round(statistics.median(gaps), 3) if gaps else None
