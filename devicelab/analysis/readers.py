"""Capture files into Flows: HAR and mitmproxy flow files, read tolerantly.

A file torn by a crash still yields every complete flow before the tear, with the read error
recorded (the verdict counts it as a coverage gap). A file that is not a capture at all, or a HAR
entry without a required field, is bad input: ConfigError naming the file and the field.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from devicelab.errors import ConfigError
from devicelab.model.traffic import APP_METADATA_KEY, CaptureRead, Flow, Request

#: Client bytes kept from one raw TCP/UDP connection.
MAX_STREAM_BYTES = 64 * 1024 * 1024


def read_capture(path: Path) -> CaptureRead:
    """Read a HAR file or a mitmproxy flow file, whichever it is (devicelab's own evidence logs are
    the capture's to read: devicelab.capture.files.read_any)."""
    try:
        with path.open("rb") as fo:
            head = fo.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "capture file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read capture: {exc.strerror}") from None
    if not head:
        raise ConfigError(str(path), "", "the file is empty: not a capture (nothing to judge is not a pass either)")
    if head.startswith(b"{"):
        return read_har(path)
    return read_mitmproxy(path)


# --- HAR -------------------------------------------------------------------------------------------


def read_har(path: Path) -> CaptureRead:
    """Flows from a HAR file; a truncated file yields its complete entries and an error."""
    text = path.read_bytes().decode("utf-8", "replace")
    error = ""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        entries, error = _salvage_entries(text, exc)
        if not entries:
            raise ConfigError(str(path), f"line {exc.lineno}", f"not a HAR file: invalid JSON: {exc.msg}") from None
    else:
        entries = _field(doc, "log", dict, str(path), "")
        entries = _field(entries, "entries", list, str(path), "log")
    flows: list[Flow] = []
    for index, entry in enumerate(entries):
        flow = _har_flow(entry, index, str(path), len(flows))
        flows.append(flow)
        flows.extend(_har_messages(entry, index, flow, len(flows), str(path)))
    return CaptureRead(str(path), "har", tuple(flows), error)


def _salvage_entries(text: str, exc: json.JSONDecodeError) -> tuple[list[Any], str]:
    """The complete entries of a HAR file cut off in the middle."""
    start = text.find('"entries"')
    start = text.find("[", start) if start >= 0 else -1
    if start < 0:
        return [], ""
    decoder = json.JSONDecoder()
    entries: list[Any] = []
    pos = start + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            entry, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        entries.append(entry)
    return entries, f"HAR file ends early ({exc.msg} at line {exc.lineno}): read {len(entries)} complete entries"


def _field(obj: Any, key: str, kind: type, source: str, parent: str) -> Any:
    where = f"{parent}.{key}" if parent else key
    if not isinstance(obj, dict) or key not in obj:
        raise ConfigError(source, where, "required field is missing")
    value = obj[key]
    if not isinstance(value, kind):
        raise ConfigError(source, where, f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _har_flow(entry: Any, index: int, source: str, position: int) -> Flow:
    at = f"log.entries.{index}"
    request = _field(entry, "request", dict, source, at)
    at += ".request"
    method = _field(request, "method", str, source, at)
    url = _field(request, "url", str, source, at)
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigError(source, f"{at}.url", f"no host in URL {url[:80]!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConfigError(source, f"{at}.url", f"bad port in URL {url[:80]!r}") from None
    headers = tuple(
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in request.get("headers") or [] if isinstance(h, dict)
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
    status = response.get("status") if isinstance(response.get("status"), int) else None
    return Flow(
        source=source,
        index=position,
        id=str(entry.get("_id") or index),
        request=Request(
            method=method, scheme=parts.scheme, host=parts.hostname, port=port, path=path,
            http_version=str(request.get("httpVersion", "")), headers=headers,
            content=_har_body(request.get("postData")), content_encoded=False,
            address=str(entry.get("serverIPAddress") or ""),
        ),
        tls=parts.scheme == "https",
        app=entry.get("_app") if isinstance(entry.get("_app"), str) else None,
        timestamp=_timestamp(entry.get("startedDateTime")),
        status=status if status and status > 0 else None,
    )


def _har_messages(entry: Any, index: int, upgrade: Flow, position: int, source: str) -> list[Flow]:
    """The handset's WebSocket messages of an entry (`_webSocketMessages`, as Chrome and mitmproxy
    write them: `type` send/receive, `opcode` 1 text / 2 binary in base64, `data`)."""
    messages = entry.get("_webSocketMessages")
    if messages is None:
        return []
    if not isinstance(messages, list):
        raise ConfigError(source, f"log.entries.{index}._webSocketMessages", "expected list")
    sent: list[bytes] = []
    for number, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("data"), str):
            raise ConfigError(source, f"log.entries.{index}._webSocketMessages.{number}.data",
                              "required field is missing")
        if message.get("type") != "send":
            continue
        data = message["data"]
        if message.get("opcode") == 2:
            try:
                sent.append(base64.b64decode(data, validate=True))
                continue
            except (binascii.Error, ValueError):
                pass
        sent.append(data.encode("utf-8", "surrogateescape"))
    return message_flows(upgrade, sent, position)


def message_flows(upgrade: Flow, messages: list[bytes], position: int) -> list[Flow]:
    """Each WebSocket message the handset sent on `upgrade`, as a flow of its own whose content is
    scanned like a request body."""
    request = replace(upgrade.request, method="WEBSOCKET", scheme="wss" if upgrade.tls else "ws", headers=(),
                      content=b"", content_encoded=False)
    return [replace(upgrade, index=position + n, id=f"{upgrade.id}/ws{n}", status=None,
                    request=replace(request, content=data)) for n, data in enumerate(messages)]


def _har_body(post: Any) -> bytes:
    if not isinstance(post, dict):
        return b""
    text = post.get("text")
    if isinstance(text, str) and text:
        if post.get("encoding") == "base64" or post.get("_encoding") == "base64":
            try:
                return base64.b64decode(text)
            except (binascii.Error, ValueError):
                pass
        return text.encode("utf-8", "surrogateescape")
    params = post.get("params")
    if isinstance(params, list):
        return urlencode([(p.get("name", ""), p.get("value", "")) for p in params if isinstance(p, dict)]).encode()
    return b""


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --- mitmproxy flow files --------------------------------------------------------------------------


def read_mitmproxy(path: Path) -> CaptureRead:
    """Flows from a mitmproxy flow file; a torn file yields the flows before the tear and an error.

    A recorder that logs a flow at request time and again at response time writes one id twice:
    the last record of each id wins, in the order ids first appeared.
    """
    from mitmproxy import io as mitmio

    latest: dict[str, Any] = {}
    error = ""
    with path.open("rb") as fo:
        try:
            for item in mitmio.FlowReader(fo).stream():
                latest[item.id] = item
        except Exception as exc:  # torn or foreign data: keep what was read, say where it stopped
            error = f"flow file unreadable after {len(latest)} flows (byte {fo.tell()}): {exc}"
    if error and not latest:
        raise ConfigError(str(path), "", "not a HAR or mitmproxy flow file (or torn before its first flow)")
    flows: list[Flow] = []
    skipped: list[str] = []
    for item in latest.values():
        flow = from_mitmproxy(item, len(flows), str(path))
        if flow is None:
            skipped.append(f"{item.id}: {type(item).__name__} is not analysed")
            continue
        flows.append(flow)
        websocket = getattr(item, "websocket", None)
        if websocket is not None:
            sent = [m.content for m in websocket.messages if m.from_client]
            flows.extend(message_flows(flow, sent, len(flows)))
    return CaptureRead(str(path), "mitmproxy", tuple(flows), error, tuple(skipped))


def from_mitmproxy(item: Any, index: int, source: str) -> Flow | None:
    """A mitmproxy flow (HTTP, TCP, UDP or DNS) as a Flow; None for other kinds."""
    from mitmproxy import dns, http, tcp, udp

    client = ":".join(str(p) for p in item.client_conn.peername[:2]) if item.client_conn.peername else ""
    server = item.server_conn.address
    common: dict[str, Any] = {
        "source": source, "index": index, "id": item.id, "client": client,
        "app": item.metadata.get(APP_METADATA_KEY), "error": item.error.msg if item.error else "",
        # where the connection went (CONNECT target, original destination), beside what the client named
        "destination": str(server[0]) if server else "", "sni": item.client_conn.sni or "",
    }
    if isinstance(item, http.HTTPFlow):
        req = item.request
        request = Request(
            method=req.method, scheme=req.scheme, host=req.pretty_host, port=req.port, path=req.path,
            http_version=req.http_version, headers=tuple((_text(k), _text(v)) for k, v in req.headers.fields),
            content=req.raw_content or b"", address=req.host if req.host != req.pretty_host else "",
        )
        tls = req.scheme == "https" or bool(item.client_conn.tls_established)
        status = item.response.status_code if item.response else None
        common["destination"] = common["destination"] or req.host
        return Flow(request=request, tls=tls, timestamp=req.timestamp_start, status=status, **common)
    if isinstance(item, tcp.TCPFlow | udp.UDPFlow):
        data = bytearray()
        for message in item.messages:
            if message.from_client and len(data) < MAX_STREAM_BYTES:
                data += message.content[:MAX_STREAM_BYTES - len(data)]
        address = item.server_conn.address
        host = item.server_conn.sni or (str(address[0]) if address else "")
        scheme: Literal["tcp", "udp"] = "tcp" if isinstance(item, tcp.TCPFlow) else "udp"
        request = Request(method="", scheme=scheme, host=host, port=int(address[1]) if address else 0, path="",
                          content=bytes(data), address=str(address[0]) if address else "")
        tls = bool(item.client_conn.tls_established)
        undecrypted = not tls and bytes(data[:2]) == b"\x16\x03"  # a TLS ClientHello passed through unopened
        return Flow(request=request, tls=tls, protocol=scheme, undecrypted_tls=undecrypted,
                    timestamp=item.timestamp_created, **common)
    if isinstance(item, dns.DNSFlow):
        names = [q.name for q in item.request.questions]
        request = Request(method="QUERY", scheme="dns", host=names[0] if names else "", port=53, path="",
                          headers=tuple(("question", name) for name in names))
        return Flow(request=request, tls=False, protocol="dns", timestamp=item.timestamp_created, **common)
    return None


def _text(raw: bytes) -> str:
    """Header bytes as str, reversibly (the walker encodes them back the same way)."""
    return raw.decode("utf-8", "surrogateescape")
