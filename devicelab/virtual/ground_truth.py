"""Lost flows, counted against ground truth: what the lab's internet answered (its received log,
devicelab.virtual.net.received) held against a gate run's evidence logs and its verdict.

A request the internet answered through the proxy is lost when no evidence log shows it: by
(host, method, path) for an HTTP flow the proxy opened, or, for a connection the proxy passed
through unopened, by a stream flow to that host (one per connection: the requests inside are not
visible to it). An answered flow of the evidence that a judged handset's verdict does not show
(by host and count) is lost too. Requests a handset sent straight to a host never passed the
proxy: the socket sampler's coverage gaps answer for those, not this count.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from devicelab.capture.evidence import read_evidence
from devicelab.errors import ConfigError
from devicelab.model.traffic import Flow
from devicelab.virtual.net.received import Answered, read_received


def lost_flows(out: Path, received: Path | None = None) -> int:
    """Requests answered through the proxy that the evidence misses, plus evidence flows a judged
    handset's verdict misses. `out`: the gate's output folder; `received`: the lab's received log."""
    flows = _evidence_flows(out)
    lost = lost_from_capture(read_received(received), flows) if received is not None else 0
    return lost + lost_from_verdict(out)


def lost_from_capture(answered: list[Answered], flows: list[Flow]) -> int:
    """Requests the internet answered through the proxy that no evidence flow accounts for."""
    http = Counter((f.host.lower(), f.request.method, f.request.path) for f in flows if f.protocol == "http"
                   and f.request.method)
    streams = Counter(f.host.lower() for f in flows if f.protocol == "tcp" and not f.request.method)
    by_connection: dict[int, list[Answered]] = {}
    for request in answered:
        if request.via == "proxy":
            by_connection.setdefault(request.conn, []).append(request)
    lost = 0
    for _conn, requests in sorted(by_connection.items()):
        unmatched = []
        for request in requests:
            key = (request.host, request.method, request.path)
            if http[key] > 0:
                http[key] -= 1
            else:
                unmatched.append(request)
        if not unmatched:
            continue
        host = unmatched[0].host
        if streams[host] > 0:  # the proxy kept this connection closed: one stream flow stands for it
            streams[host] -= 1
            continue
        lost += len(unmatched)
    return lost


def lost_from_verdict(out: Path) -> int:
    """Answered flows in the evidence logs that a judged handset's verdict leaves out (by host and
    count). An unjudged handset keeps its flows in the evidence bundle: nothing is lost."""
    try:
        verdict = json.loads((out / "verdict.json").read_text())
    except (OSError, ValueError):
        return 0
    lost = 0
    for handset in verdict.get("handsets", []):
        if not handset.get("judged"):
            continue
        hid = handset["handset"]["id"]
        shown: dict[str, int] = {}
        for flow in handset.get("flows", []):
            shown[flow["host"]] = shown.get(flow["host"], 0) + int(flow.get("count", 1))
        for log in sorted((out / "evidence" / hid).glob("*.jsonl")):
            answered: dict[str, int] = {}
            for flow in read_evidence(log).capture.flows:
                if flow.status is not None:
                    answered[flow.host] = answered.get(flow.host, 0) + 1
            lost += sum(max(0, n - shown.get(host, 0)) for host, n in answered.items())
    return lost


def _evidence_flows(out: Path) -> list[Flow]:
    """Every flow of every evidence log of the run, the canary's included (it went through the proxy too)."""
    flows: list[Flow] = []
    for log in sorted((out / "evidence").glob("*/*.jsonl")):
        try:
            flows += read_evidence(log, include_canary=True).capture.flows
        except ConfigError:
            continue  # not an evidence log (another JSON Lines file in the bundle)
    return flows


def unaccounted_connections(out: Path, received: Path | None = None) -> int:
    """Behind a lab gateway: connections the gateway's table leaves unaccounted, plus what the
    internet answered that no accounted row of the table stands for (by host: connections the
    proxy opened to it, NTP exchanges). 0 when every connection maps to flows or to a gap."""
    rows: list[dict[str, object]] = []
    unaccounted = 0
    for table in sorted((out / "evidence").glob("*/connections.json")):
        data = json.loads(table.read_text())
        unaccounted += int(data.get("unaccounted", 0))
        rows += data.get("connections", [])
    if received is None:
        return unaccounted
    accounted_tcp = Counter(str(r["host"]) for r in rows if r.get("account") in ("read", "packet"))
    accounted_udp = Counter(str(r["host"]) for r in rows if r.get("account") == "udp")
    answered = read_received(received)
    # one connection the proxy opened upstream per connection of the handset (mitmproxy does not pool)
    tcp = Counter(host for host, _conn in {(a.host, a.conn) for a in answered if a.via == "proxy"})
    udp = Counter(a.host for a in answered if a.via == "udp")
    unaccounted += sum(max(0, n - accounted_tcp[host]) for host, n in tcp.items())
    unaccounted += sum(max(0, n - accounted_udp[host]) for host, n in udp.items())
    return unaccounted
