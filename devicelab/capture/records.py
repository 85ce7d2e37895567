"""The evidence log: one JSON object per line, written unbuffered as traffic happens.

A record reaches the file (the kernel's page cache) before the hook that wrote it returns, so a
completed flow survives SIGKILL of the capture, and so does the request still in flight. The
first line names the format; every other line has a `kind`. Builders here are pure functions
from mitmproxy objects to plain dicts: cheap enough for the proxy's single loop.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mitmproxy import connection, dns, http, tls
from mitmproxy.net.dns import types as dns_types

from devicelab.errors import CaptureError

MAGIC = "devicelab-capture"
VERSION = 1
#: The first bytes of every evidence log (readers sniff the format by them).
HEADER_PREFIX = b'{"evidence":"' + MAGIC.encode() + b'"'
#: flow.metadata keys with this prefix are copied into the log (decisions: sinkholed, canary, app).
METADATA_PREFIX = "devicelab."

Record = dict[str, Any]


class EvidenceLog:
    """Append-only JSON Lines, no user-space buffer; safe to write from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors = 0
        self.last_error = ""
        self._lock = threading.Lock()
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise CaptureError(f"cannot open the evidence log {path}: {exc.strerror}") from None

    def write_header(self, **facts: Any) -> None:
        self.write({"evidence": MAGIC, "version": VERSION, **facts})

    def write(self, record: Record) -> bool:
        """Append one record; False (and counted) when the disk refused it: a hook must not crash."""
        data = (json.dumps(record, separators=(",", ":"), ensure_ascii=True, default=str) + "\n").encode()
        with self._lock:
            if self._fd is None:
                self.errors += 1
                self.last_error = "log already closed"
                return False
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as exc:
                self.errors += 1
                self.last_error = exc.strerror or str(exc)
                return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


# --- builders ---------------------------------------------------------------------------------------


def address(addr: Any) -> str:
    """`host:port` (`[v6]:port`) of a mitmproxy address tuple; "" when unknown."""
    if not addr:
        return ""
    host, port = str(addr[0]), addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def text(raw: bytes) -> str:
    """Bytes as str, reversibly (lone surrogates survive JSON's \\uXXXX escapes)."""
    return raw.decode("utf-8", "surrogateescape")


def body(raw: bytes | None, limit: int, prefix: str = "body") -> Record:
    data = raw or b""
    kept = data[:limit]
    return {prefix: base64.b64encode(kept).decode(), f"{prefix}_size": len(data),
            f"{prefix}_truncated": len(kept) < len(data)}


def headers(fields: Iterable[tuple[bytes, bytes]]) -> list[list[str]]:
    return [[text(k), text(v)] for k, v in fields]


def metadata(meta: dict[str, Any]) -> Record:
    return {k: v for k, v in meta.items() if k.startswith(METADATA_PREFIX) and isinstance(v, str | int | float | bool)}


def _client(conn: connection.Client) -> Record:
    return {"client": address(conn.peername), "client_conn": conn.id, "mode": conn.proxy_mode.full_spec,
            "client_tls": bool(conn.tls_established), "sni": conn.sni or ""}


def request_record(flow: http.HTTPFlow, limit: int, connect: str = "") -> Record:
    """`connect`: the CONNECT target of the tunnel the request came through (the real destination)."""
    req = flow.request
    return {
        "kind": "request", "id": flow.id, "ts": req.timestamp_start, **_client(flow.client_conn),
        "method": req.method, "scheme": req.scheme, "host": req.host, "pretty_host": req.pretty_host,
        "port": req.port, "path": req.path, "http_version": req.http_version,
        "headers": headers(req.headers.fields), **body(req.raw_content, limit),
        "server": address(flow.server_conn.address), "connect": connect, "metadata": metadata(flow.metadata),
    }


def response_record(flow: http.HTTPFlow, limit: int) -> Record:
    resp = flow.response
    assert resp is not None
    return {
        "kind": "response", "id": flow.id, "ts": resp.timestamp_end or resp.timestamp_start,
        "status": resp.status_code, "reason": resp.reason, "http_version": resp.http_version,
        "headers": headers(resp.headers.fields), **body(resp.raw_content, limit),
        "server": address(flow.server_conn.address), "server_ip": address(flow.server_conn.peername),
        "metadata": metadata(flow.metadata),
    }


def error_record(flow_id: str, message: str, ts: float) -> Record:
    return {"kind": "error", "id": flow_id, "ts": ts, "error": message}


def tls_failed_record(data: tls.TlsData, ts: float) -> Record:
    client = data.context.client
    server = data.context.server
    return {
        "kind": "tls_failed", "id": f"tls-{client.id}", "ts": ts, **_client(client), "sni": client.sni or "",
        "server": address(server.address), "error": data.conn.error or "handshake failed",
        "side": "client" if data.conn is client else "server",
    }


def dns_record(flow: dns.DNSFlow) -> Record:
    questions = [[q.name, dns_types.to_str(q.type)] for q in flow.request.questions]
    return {"kind": "dns", "id": flow.id, "ts": flow.timestamp_created, **_client(flow.client_conn),
            "questions": questions, "server": address(flow.server_conn.address)}


def stream_start_record(flow_id: str, protocol: str, conn: connection.Client, server: connection.Server,
                        ts: float) -> Record:
    return {"kind": "stream_start", "id": flow_id, "ts": ts, "protocol": protocol, **_client(conn),
            "server": address(server.address), "server_sni": server.sni or ""}


def websocket_record(flow_id: str, data: bytes, ts: float, is_text: bool, truncated: bool) -> Record:
    """One WebSocket message the handset sent on an upgraded HTTP flow."""
    return {"kind": "websocket", "id": flow_id, "ts": ts, "text": is_text, "data": base64.b64encode(data).decode(),
            "truncated": truncated}


def stream_data_record(flow_id: str, data: bytes, ts: float, truncated: bool) -> Record:
    return {"kind": "stream_data", "id": flow_id, "ts": ts, "data": base64.b64encode(data).decode(),
            "truncated": truncated}
