"""Reading an evidence log back: records -> analysis Flows, coverage gaps and notes.

Tolerant by design: a torn last line (the capture was killed mid-write) is reported, not fatal;
a bad line in the middle is skipped with a note. Request and response records of one flow are
merged by flow id; a TLS handshake the handset refused becomes Flow(undecrypted_tls=True).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from devicelab.analysis.readers import message_flows
from devicelab.capture.canary import CANARY
from devicelab.capture.coverage import Attribution, ProxyView, Sighting, Socket, find_bypasses
from devicelab.capture.device_setup import NOT_INSTALLABLE
from devicelab.capture.records import MAGIC, Record
from devicelab.errors import ConfigError
from devicelab.model.traffic import APP_METADATA_KEY, CaptureRead, CoverageGap, Flow, Request

#: CaptureRead.format of an evidence log (see the note in the capture report: the Literal needs "evidence")
FORMAT: Literal["evidence"] = "evidence"


@dataclass
class _Stream:
    start: Record
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    end: Record | None = None


@dataclass(frozen=True)
class EvidenceRead:
    """Everything one evidence log says: the flows, what the capture could not see, and why."""

    capture: CaptureRead
    header: Record
    gaps: tuple[CoverageGap, ...]  # beyond what analysis.scan.coverage_gaps derives from `capture`
    notes: tuple[str, ...]
    canary: Record | None
    bypasses: tuple[str, ...]  # connections that reached the network without the capture
    records: tuple[Record, ...] = field(repr=False)
    #: plain DNS around the capture, as (resolver address, description): a note, unless the address
    #: is a host the lab's DNS names (see `named_dns_gaps`)
    dns: tuple[tuple[str, str], ...] = ()

    @property
    def flows(self) -> tuple[Flow, ...]:
        return self.capture.flows


_HEAD = re.compile(rb'\s*\{\s*"evidence"\s*:\s*"' + re.escape(MAGIC.encode()) + rb'"')


def is_evidence(head: bytes) -> bool:
    """Whether a file starting with `head` (its first 64 bytes will do) is an evidence log."""
    return _HEAD.match(head.removeprefix(b"\xef\xbb\xbf")) is not None


def load_records(path: Path) -> tuple[list[Record], list[str], str]:
    """The records of a log, the lines skipped (and why), and the error that ended it early."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "", "evidence log not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read evidence log: {exc.strerror}") from None
    lines = raw.split(b"\n")
    error = ""
    if lines and lines[-1]:  # no newline at the end: the writer died inside the last record
        error = f"last record torn after {len(lines[-1])} bytes (line {len(lines)}): the capture was cut off"
    lines = lines[:-1]
    records: list[Record] = []
    skipped: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            skipped.append(f"line {number}: not a JSON record ({exc})")
            continue
        if not isinstance(record, dict):
            skipped.append(f"line {number}: not a JSON object")
            continue
        records.append(record)
    if not records or records[0].get("evidence") != MAGIC:
        raise ConfigError(str(path), "line 1", "not a devicelab evidence log (no header record)")
    return records, skipped, error


def read_evidence(path: Path, *, live: bool = False, include_canary: bool = False) -> EvidenceRead:
    """Read a log into Flows. `live`: the capture is still running (no stop record expected)."""
    records, skipped, error = load_records(path)
    header, body = records[0], records[1:]
    builder = _Builder(str(path), "" if include_canary else str(header.get("canary_host", "")))
    for record in body:
        builder.add(record)
    if not live and not error and not any(r.get("kind") == "stop" for r in body):
        error = "the log has no stop record: the capture did not stop cleanly, later traffic was not seen"
    flows = builder.flows()
    gaps = list(builder.gaps)
    bypasses = builder.coverage(header, gaps)
    capture = CaptureRead(str(path), FORMAT, tuple(flows), error, tuple(skipped + builder.skipped))
    unread = sum(1 for flow in flows if flow.undecrypted_tls)
    ca_note = next((note for note in builder.notes if note.startswith(NOT_INSTALLABLE)), None)
    if unread and ca_note is not None:  # why that TLS stayed closed; the verdict counts it with the TLS
        gaps.append(CoverageGap("ca_not_installed", f"{ca_note}; {unread} TLS flow(s) unread", source=str(path)))
    canary = builder.canary
    if canary is not None and not canary.get("ok"):
        gaps.append(CoverageGap("canary_failed", str(canary.get("detail") or "canary not seen"),
                                source=str(path)))
    return EvidenceRead(capture, header, tuple(gaps), tuple(builder.notes), canary, tuple(bypasses), tuple(records),
                        tuple(builder.dns))


class _Builder:
    """Accumulates records by flow id, in the order flows first appeared."""

    def __init__(self, source: str, canary_host: str) -> None:
        self.source = source
        self.canary_host = canary_host  # its flows are the harness's own: left out (empty: kept)
        self.order: list[tuple[str, str]] = []
        self.http: dict[str, dict[str, Record]] = {}
        self.streams: dict[str, _Stream] = {}
        self.singles: dict[str, Record] = {}  # tls_failed, dns
        self.websockets: dict[str, list[Record]] = {}  # the handset's messages, by the upgraded flow's id
        self.sightings: list[Sighting] = []
        self.packages: dict[int, tuple[str, ...]] = {}
        self.listening: Record | None = None
        self.sampler: Record | None = None
        self.canary: Record | None = None
        self.notes: list[str] = []
        self.skipped: list[str] = []
        self.gaps: list[CoverageGap] = []
        self.dns: list[tuple[str, str]] = []

    def add(self, record: Record) -> None:
        kind, flow_id = record.get("kind"), str(record.get("id", ""))
        if kind in ("request", "response", "error"):
            if flow_id not in self.http and flow_id not in self.streams:
                if kind != "request":
                    self.skipped.append(f"{kind} record for unknown flow {flow_id}")
                    return
                self.http[flow_id] = {}
                self.order.append(("http", flow_id))
            if flow_id in self.http:
                self.http[flow_id][kind] = record
            elif kind == "error":
                self.streams[flow_id].end = record
        elif kind in ("tls_failed", "dns"):
            if kind == "tls_failed" and record.get("side") != "client":
                self.notes.append(f"upstream TLS failed for {record.get('sni') or record.get('server')}: "
                                  f"{record.get('error')}")
                return
            self.singles[flow_id] = record
            self.order.append((kind, flow_id))
        elif kind == "websocket":
            if flow_id not in self.http:
                self.skipped.append(f"websocket record for unknown flow {flow_id}")
                return
            self.websockets.setdefault(flow_id, []).append(record)
        elif kind == "stream_start":
            self.streams[flow_id] = _Stream(record)
            self.order.append(("stream", flow_id))
        elif kind == "stream_data" and flow_id in self.streams:
            stream = self.streams[flow_id]
            stream.data += _b64(record.get("data"))
            stream.truncated |= bool(record.get("truncated"))
        elif kind == "stream_end" and flow_id in self.streams:
            self.streams[flow_id].end = record
        elif kind == "sockets":
            ts = float(record.get("ts") or 0.0)
            for row in record.get("entries") or []:
                try:
                    self.sightings.append(Sighting(ts, Socket.from_row(row)))
                except (TypeError, ValueError):
                    self.skipped.append(f"bad socket row {row!r:.80}")
        elif kind == "packages":
            self.packages = {int(uid): tuple(names) for uid, names in (record.get("uids") or {}).items()}
        elif kind == "listening":
            self.listening = record
        elif kind == "sampler":
            self.sampler = record
        elif kind == "canary":
            if self.canary is None or self.canary.get("ok"):  # a later canary must not hide a failed one
                self.canary = record
        elif kind == "note":
            self.notes.append(str(record.get("note", "")))
        elif kind == "gap":
            self.gaps.append(CoverageGap(record.get("gap", "capture_incomplete"), str(record.get("detail", "")),
                                         host=str(record.get("host", "")), source=self.source))
        elif kind not in ("stop", "stream_data", "stream_end", "sockets_baseline", "gateway"):
            self.skipped.append(f"unknown record kind {kind!r}")

    # -- flows -------------------------------------------------------------------------------------
    def flows(self) -> list[Flow]:
        view = self._view()
        # over `adb reverse` a flow's client port is the adb server's, not the handset's: no port names an app
        reversed_link = bool((self.listening or {}).get("adb_reverse"))
        attribution = Attribution(self.sightings, view, self.packages) if view and not reversed_link else None
        flows: list[Flow] = []
        canaries = 0
        for kind, flow_id in self.order:
            if kind == "http":
                parts = self.http[flow_id]
                if self.canary_host and parts["request"].get("metadata", {}).get(CANARY):
                    canaries += 1
                    continue
                flow = self._http(flow_id, parts, len(flows))
            elif kind == "stream":
                flow = self._stream(flow_id, self.streams[flow_id], len(flows))
            elif kind == "tls_failed":
                if self.canary_host and self.singles[flow_id].get("sni") == self.canary_host:
                    canaries += 1
                    continue
                flow = self._tls_failed(self.singles[flow_id], len(flows))
            else:
                flow = self._dns(self.singles[flow_id], len(flows))
            if flow.app is None and attribution is not None and flow.client:
                port = int(flow.client.rpartition(":")[2] or 0)
                app = attribution.app(port, flow.timestamp)
                if app is not None:
                    flow = _with_app(flow, app)
            flows.append(flow)
            if kind == "http":
                flows.extend(self._messages(flow, self.websockets.get(flow_id, ()), len(flows)))
        if canaries:
            self.notes.append(f"{canaries} canary request(s) left out of the flows")
        return flows

    def _common(self, record: Record, index: int) -> dict[str, Any]:
        app = (record.get("metadata") or {}).get(APP_METADATA_KEY)
        return {"source": self.source, "index": index, "id": str(record.get("id", "")),
                "client": str(record.get("client", "")), "timestamp": _float(record.get("ts")),
                "app": app if isinstance(app, str) else None}

    def _http(self, flow_id: str, parts: dict[str, Record], index: int) -> Flow:
        req, resp, err = parts["request"], parts.get("response"), parts.get("error")
        host, pretty = str(req.get("host", "")), str(req.get("pretty_host") or req.get("host", ""))
        if req.get("body_truncated"):
            self.gaps.append(CoverageGap("body_truncated", f"flow {index}: request body kept "
                                         f"{len(_b64(req.get('body')))} of {req.get('body_size')} bytes",
                                         host=pretty, source=self.source))
        request = Request(
            method=str(req.get("method", "")), scheme=str(req.get("scheme", "")), host=pretty,
            port=int(req.get("port") or 0), path=str(req.get("path", "")),
            http_version=str(req.get("http_version", "")),
            headers=tuple((str(k), str(v)) for k, v in req.get("headers") or []),
            content=_b64(req.get("body")), content_encoded=True, address=host if host != pretty else "",
        )
        tls = request.scheme == "https" or bool(req.get("client_tls"))
        status = resp.get("status") if resp else None
        # the tunnel's CONNECT target, else the server dialled at request time, else the URL's host
        destination = _host_of(str(req.get("connect") or req.get("server") or "")) or host
        return Flow(request=request, tls=tls, status=status if isinstance(status, int) else None,
                    error=str(err.get("error", "")) if err else "", destination=destination,
                    sni=str(req.get("sni") or ""), **self._common(req, index))

    def _messages(self, upgrade: Flow, messages: Sequence[Record], index: int) -> list[Flow]:
        """The WebSocket messages the handset sent on `upgrade`, each a flow of its own."""
        sent: list[bytes] = []
        for record in messages:
            sent.append(_b64(record.get("data")))
            if record.get("truncated"):
                self.gaps.append(CoverageGap("capture_incomplete", f"flow {index + len(sent) - 1}: only the first "
                                             f"{len(sent[-1])} bytes of a WebSocket message were kept",
                                             host=upgrade.host, source=self.source))
        flows = message_flows(upgrade, sent, index)
        return [replace(f, timestamp=_float(r.get("ts"))) for f, r in zip(flows, messages, strict=True)]

    def _stream(self, flow_id: str, stream: _Stream, index: int) -> Flow:
        start = stream.start
        server_host, _, server_port = str(start.get("server", "")).rpartition(":")
        server_host = server_host.strip("[]")
        protocol: Literal["tcp", "udp"] = "udp" if start.get("protocol") == "udp" else "tcp"
        # the gateway names a UDP destination by the DNS answer the handset got for it
        host = str(start.get("server_sni") or start.get("sni") or start.get("server_name") or server_host)
        if stream.truncated:
            self.gaps.append(CoverageGap("body_truncated", f"flow {index}: only the first {len(stream.data)} "
                                         "client bytes were kept", host=host, source=self.source))
        data = bytes(stream.data)
        tls = bool(start.get("client_tls"))
        request = Request(method="", scheme=protocol, host=host, port=int(server_port or 0), path="", content=data,
                          address=server_host)
        error = str(stream.end.get("error", "")) if stream.end else ""
        return Flow(request=request, tls=tls, protocol=protocol, error=error,
                    undecrypted_tls=not tls and data[:2] == b"\x16\x03", destination=server_host,
                    sni=str(start.get("sni") or start.get("server_sni") or ""), **self._common(start, index))

    def _tls_failed(self, record: Record, index: int) -> Flow:
        server_host, _, server_port = str(record.get("server", "")).rpartition(":")
        server_host = server_host.strip("[]")
        host = str(record.get("sni") or server_host)
        request = Request(method="", scheme="tcp", host=host, port=int(server_port or 0), path="",
                          address=server_host if server_host != host else "")
        return Flow(request=request, tls=False, protocol="tcp", undecrypted_tls=True,
                    error=f"TLS handshake refused by the handset: {record.get('error', '')}",
                    destination=server_host, sni=str(record.get("sni") or ""), **self._common(record, index))

    def _dns(self, record: Record, index: int) -> Flow:
        names = [str(q[0]) for q in record.get("questions") or [] if q]
        request = Request(method="QUERY", scheme="dns", host=names[0] if names else "", port=53, path="",
                          headers=tuple(("question", name) for name in names))
        return Flow(request=request, tls=False, protocol="dns", **self._common(record, index))

    # -- coverage ----------------------------------------------------------------------------------
    def _view(self) -> ProxyView | None:
        if self.listening is None:
            return None
        dial = self.listening.get("dial") or []
        tunnel = self.listening.get("tunnel_ip")
        proxy = (str(dial[0]), int(dial[1])) if len(dial) == 2 else None
        return ProxyView(proxy=proxy, tunnel_ip=str(tunnel) if tunnel else None)

    def coverage(self, header: Record, gaps: list[CoverageGap]) -> list[str]:
        """Sockets that bypassed the capture become gaps (plain DNS a note); returns their descriptions."""
        if self.sampler is not None and not self.sampler.get("samples"):
            gaps.append(CoverageGap("unproxied_connection", "the handset's socket table could not be read: "
                                    "connections that bypass the proxy were not checked", source=self.source))
        view = self._view()
        if view is None or not self.sightings:
            return []
        described: list[str] = []
        for bypass in find_bypasses((s.socket for s in self.sightings), view, self.packages):
            text = bypass.describe()
            described.append(text)
            if bypass.dns:
                self.notes.append(f"plain DNS outside the capture (host names only): {text}")
                self.dns.append((bypass.socket.remote_ip, text))
            else:
                gaps.append(CoverageGap("unproxied_connection", text,
                                        host="" if bypass.unconnected else bypass.socket.remote_ip,
                                        source=self.source))
        return described


def named_dns_gaps(read: EvidenceRead, names: Mapping[str, str]) -> list[CoverageGap]:
    """Datagrams to port 53 of an address the lab's DNS gave out for a host (`names`: address ->
    host) went to that host, not to a resolver: connections around the proxy, named by it."""
    return [CoverageGap("unproxied_connection", f"{text}: port 53 of {names[address]}, not a resolver",
                        host=names[address], source=read.capture.source)
            for address, text in read.dns if address in names]


def _b64(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _host_of(address: str) -> str:
    """The host of `host:port` / `[v6]:port`."""
    return address.rpartition(":")[0].strip("[]") if ":" in address else address


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _with_app(flow: Flow, app: str) -> Flow:
    return replace(flow, app=app)
