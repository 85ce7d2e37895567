"""HAR 1.2 export of an evidence log: a convenience for browsers' and tools' viewers.

The JSON Lines log stays the evidence: HAR has no place for raw TCP/UDP, DNS or refused TLS,
and viewers expect text bodies.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devicelab.capture.records import Record


def to_har(records: Iterable[Record], *, creator: str = "devicelab") -> dict[str, Any]:
    """A HAR document with one entry per HTTP request in the records."""
    requests: dict[str, Record] = {}
    responses: dict[str, Record] = {}
    for record in records:
        kind = record.get("kind")
        if kind == "request":
            requests[str(record["id"])] = record
        elif kind == "response":
            responses[str(record["id"])] = record
    entries = [_entry(req, responses.get(flow_id)) for flow_id, req in requests.items()]
    return {"log": {"version": "1.2", "creator": {"name": creator, "version": "1"}, "entries": entries}}


def write_har(records: Iterable[Record], path: Path) -> Path:
    path.write_text(json.dumps(to_har(records), indent=1))
    return path


def _entry(req: Record, resp: Record | None) -> dict[str, Any]:
    started = float(req.get("ts") or 0.0)
    ended = float(resp.get("ts") or started) if resp else started
    port = int(req.get("port") or 0)
    scheme = str(req.get("scheme", "http"))
    default = 443 if scheme == "https" else 80
    host = str(req.get("pretty_host") or req.get("host", ""))
    authority = host if port in (0, default) else f"{host}:{port}"
    entry: dict[str, Any] = {
        "startedDateTime": datetime.fromtimestamp(started, UTC).isoformat().replace("+00:00", "Z"),
        "time": max(ended - started, 0.0) * 1000,
        "request": {
            "method": req.get("method", ""), "url": f"{scheme}://{authority}{req.get('path', '')}",
            "httpVersion": req.get("http_version", ""), "headers": _headers(req), "queryString": [], "cookies": [],
            "headersSize": -1, "bodySize": int(req.get("body_size") or 0),
        },
        "response": _response(resp),
        "cache": {}, "timings": {"send": 0, "wait": max(ended - started, 0.0) * 1000, "receive": 0},
        "_id": req.get("id"), "_client": req.get("client", ""),
    }
    if req.get("body"):
        entry["request"]["postData"] = {"mimeType": _header(req, "content-type"), "text": req["body"],
                                        "encoding": "base64", "_truncated": bool(req.get("body_truncated"))}
    app = (req.get("metadata") or {}).get("devicelab.app")
    if app:
        entry["_app"] = app
    if req.get("server"):
        entry["serverIPAddress"] = str(req["server"]).rpartition(":")[0].strip("[]")
    return entry


def _response(resp: Record | None) -> dict[str, Any]:
    if resp is None:
        return {"status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [],
                "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1, "bodySize": -1}
    body = str(resp.get("body") or "")
    return {
        "status": resp.get("status", 0), "statusText": resp.get("reason", ""),
        "httpVersion": resp.get("http_version", ""),
        "headers": _headers(resp), "cookies": [],
        "content": {"size": int(resp.get("body_size") or 0), "mimeType": _header(resp, "content-type"),
                    "text": body, "encoding": "base64"},
        "redirectURL": "", "headersSize": -1, "bodySize": len(base64.b64decode(body)) if body else 0,
    }


def _headers(record: Record) -> list[dict[str, str]]:
    return [{"name": str(k), "value": str(v)} for k, v in record.get("headers") or []]


def _header(record: Record, name: str) -> str:
    return next((str(v) for k, v in record.get("headers") or [] if str(k).lower() == name), "")
