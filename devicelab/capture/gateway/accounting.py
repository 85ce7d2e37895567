"""Every connection of the packet record, accounted for: read as flows, or a gap with its bytes.

The gateway's connection table is the ground truth of what the handset sent. Each row is one of:

    read      TCP the relay handed to mitmproxy, with at least one flow of the evidence (a TLS
              handshake the handset refused is such a flow too: the analysis judges it by SNI)
    packet    TCP no flow reads (the handset closed before mitmproxy made one), whose every byte up
              the packet record kept: written to the evidence as a raw TCP flow, read from there
    dns       a query the gateway's resolver logged (written to the evidence as a DNS flow)
    udp       other UDP: its payload written to the evidence as a raw UDP flow
    quic      UDP/443, dropped by the rules: fine when TCP to the same host followed, else a gap
    gap       anything else (TCP no flow reads, other IP protocols): a gap carrying its bytes

`unaccounted` counts rows none of these took: it must be 0.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from devicelab.capture.gateway.resolver import Query
from devicelab.capture.gateway.transparent import Relayed
from devicelab.model.traffic import Flow

ACCOUNTS = ("read", "packet", "dns", "udp", "quic", "gap")
DNS_PORT = 53
QUIC_PORT = 443


@dataclass
class Accounting:
    rows: list[dict[str, Any]] = field(default_factory=list)  # the table, each row with `account` and `flows`
    records: list[dict[str, Any]] = field(default_factory=list)  # for the evidence log
    unaccounted: int = 0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row["account"]] = counts.get(row["account"], 0) + 1
        return counts


def reconcile(table: Sequence[dict[str, Any]], handset_ip: str, queries: Sequence[Query],
              relayed: Sequence[Relayed], flows: Sequence[Flow]) -> Accounting:
    result = Accounting()
    mine = [q for q in queries if q.client.rpartition(":")[0] == handset_ip]
    names = {q.answer: q.name.rstrip(".").lower() for q in mine if q.answer}
    by_client = {f"{r.client[0]}:{r.client[1]}": r for r in relayed}
    flows_by_port: dict[int, list[str]] = {}
    for flow in flows:
        host, _, port = flow.client.rpartition(":")
        if host in ("127.0.0.1", "::1", "::ffff:127.0.0.1") and port.isdigit():
            flows_by_port.setdefault(int(port), []).append(flow.id)
    tcp_hosts = {row["remote"].rpartition(":")[0] for row in table if row["proto"] == "tcp"}
    for index, query in enumerate(mine):
        result.records.append({"kind": "dns", "id": f"gateway-dns-{index}", "ts": query.ts, "client": query.client,
                               "questions": [[query.name, query.type]], "answers": [query.answer] if query.answer
                               else [], "via": "gateway"})
    dns_clients = {q.client for q in mine}
    asked = {q.client: q.name.rstrip(".").lower() for q in mine}  # a DNS row is named by the name it asked
    for index, raw in enumerate(table):
        row = dict(raw)
        remote_ip, _, remote_port = row["remote"].rpartition(":")
        remote_no = int(remote_port or 0)
        name = asked.get(row["handset"], "") if remote_no == DNS_PORT else names.get(remote_ip, "")
        row["host"], row["flows"] = name or remote_ip, []
        if row["proto"] == "tcp":
            relay = by_client.get(row["handset"])
            ids = flows_by_port.get(relay.proxy_port, []) if relay is not None and relay.proxy_port else []
            payload = bytes.fromhex(row.get("payload_up") or "")
            if ids:
                row["account"], row["flows"] = "read", ids
            elif payload and len(payload) == row["bytes_up"]:
                flow_id = f"gateway-tcp-{index}"
                row["account"], row["flows"] = "packet", [flow_id]
                result.records += _stream(flow_id, row, name, "tcp")
            else:
                row["account"] = "gap"
                result.records.append(_gap(row, "opaque_connection", "no flow reads this TCP connection"))
        elif row["proto"] == "udp" and remote_no == DNS_PORT:
            row["account"] = "dns" if row["handset"] in dns_clients or not row["bytes_up"] else "gap"
            if row["account"] == "gap":
                result.records.append(_gap(row, "opaque_connection", "port 53 traffic the resolver did not log"))
        elif row["proto"] == "udp" and remote_no == QUIC_PORT:
            if remote_ip in tcp_hosts:
                row["account"] = "quic"
            else:
                row["account"] = "gap"
                result.records.append(_gap(row, "quic_without_fallback",
                                           "a QUIC attempt (dropped) with no TCP to that host after it"))
        elif row["proto"] == "udp":
            row["account"] = "udp"
            flow_id = f"gateway-udp-{index}"
            row["flows"] = [flow_id]
            result.records += _stream(flow_id, row, name, "udp")
        else:
            row["account"] = "gap"
            result.records.append(_gap(row, "opaque_connection", f"{row['proto']} packets the gateway forwarded"))
        result.rows.append(row)
    result.unaccounted = sum(1 for row in result.rows if row.get("account") not in ACCOUNTS)
    return result


def _gap(row: dict[str, Any], kind: str, why: str) -> dict[str, Any]:
    return {"kind": "gap", "ts": time.time(), "gap": kind, "host": row["host"],
            "detail": f"gateway: {row['proto']} {row['handset']} -> {row['remote']} ({row['host']}): {why}; "
                      f"{row['bytes_up']} bytes up, {row['bytes_down']} down, {row['packets_up']} packets up"}


def _stream(flow_id: str, row: dict[str, Any], name: str, protocol: str) -> list[dict[str, Any]]:
    payload = bytes.fromhex(row.get("payload_up") or "")
    common = {"id": flow_id, "ts": row["first"]}
    return [
        {"kind": "stream_start", **common, "protocol": protocol, "client": row["handset"], "server": row["remote"],
         "server_name": name, "via": "gateway"},
        {"kind": "stream_data", **common, "data": base64.b64encode(payload).decode(),
         "truncated": len(payload) < row["bytes_up"]},
        {"kind": "stream_end", **common, "ts": row["last"]},
    ]
