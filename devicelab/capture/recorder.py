"""`Recorder`: the mitmproxy addon that writes the evidence log as traffic happens.

Hooks only record (no analysis): a request when it is complete, its response when it arrives,
TLS handshakes the handset refused (with their SNI), DNS questions, and the client bytes of raw
TCP/UDP flows and of WebSocket messages. App attribution known at request time (`resolve_app`) goes into flow.metadata.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mitmproxy import connection, dns, http, tcp, tls, udp

from devicelab.capture import records
from devicelab.capture.records import EvidenceLog
from devicelab.model.traffic import APP_METADATA_KEY

#: peername of the handset's connection -> the app owning it (None when not known yet)
AppResolver = Callable[[tuple[str, int]], str | None]


class Recorder:
    """Writes every flow into an EvidenceLog; counts what it wrote."""

    def __init__(self, log: EvidenceLog, *, max_body_bytes: int, max_stream_bytes: int,
                 resolve_app: AppResolver | None = None) -> None:
        self.log = log
        self.max_body_bytes = max_body_bytes
        self.max_stream_bytes = max_stream_bytes
        self.resolve_app = resolve_app
        self.requests = 0
        self.responses = 0
        self._stream_bytes: dict[str, int] = {}
        #: client connection id -> the CONNECT target of its tunnel: where the handset really went
        self._tunnels: dict[str, str] = {}

    # -- HTTP ----------------------------------------------------------------------------------
    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._tunnels[flow.client_conn.id] = records.address((flow.request.host, flow.request.port))

    def client_disconnected(self, client: connection.Client) -> None:
        self._tunnels.pop(client.id, None)

    def request(self, flow: http.HTTPFlow) -> None:
        self._attribute(flow)
        self.requests += 1
        self.log.write(records.request_record(flow, self.max_body_bytes, self._tunnels.get(flow.client_conn.id, "")))

    def response(self, flow: http.HTTPFlow) -> None:
        self.responses += 1
        self.log.write(records.response_record(flow, self.max_body_bytes))

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.error is not None:
            self.log.write(records.error_record(flow.id, flow.error.msg, flow.error.timestamp))

    # -- WebSocket: the handset's messages, scanned like request bodies -------------------------
    def websocket_message(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None or not flow.websocket.messages:
            return
        message = flow.websocket.messages[-1]
        if not message.from_client:
            return
        key = f"ws-{flow.id}"
        kept = self._stream_bytes.get(key, 0)
        data = message.content[:max(0, self.max_stream_bytes - kept)]
        self._stream_bytes[key] = kept + len(data)
        self.log.write(records.websocket_record(flow.id, data, message.timestamp, message.is_text,
                                                len(data) < len(message.content)))

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._stream_bytes.pop(f"ws-{flow.id}", None)

    # -- TLS the proxy could not open ------------------------------------------------------------
    def tls_failed_client(self, data: tls.TlsData) -> None:
        self.log.write(records.tls_failed_record(data, time.time()))

    def tls_failed_server(self, data: tls.TlsData) -> None:
        self.log.write(records.tls_failed_record(data, time.time()))

    # -- DNS ---------------------------------------------------------------------------------------
    def dns_request(self, flow: dns.DNSFlow) -> None:
        self.log.write(records.dns_record(flow))

    # -- raw TCP / UDP -----------------------------------------------------------------------------
    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self._stream_start(flow, "tcp")

    def udp_start(self, flow: udp.UDPFlow) -> None:
        self._stream_start(flow, "udp")

    def tcp_message(self, flow: tcp.TCPFlow) -> None:
        self._stream_message(flow)

    def udp_message(self, flow: udp.UDPFlow) -> None:
        self._stream_message(flow)

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        self._stream_end(flow)

    def udp_end(self, flow: udp.UDPFlow) -> None:
        self._stream_end(flow)

    def tcp_error(self, flow: tcp.TCPFlow) -> None:
        self._stream_end(flow)

    def udp_error(self, flow: udp.UDPFlow) -> None:
        self._stream_end(flow)

    def _stream_start(self, flow: tcp.TCPFlow | udp.UDPFlow, protocol: str) -> None:
        self._stream_bytes[flow.id] = 0
        self.log.write(records.stream_start_record(flow.id, protocol, flow.client_conn, flow.server_conn,
                                                   flow.timestamp_created))

    def _stream_message(self, flow: tcp.TCPFlow | udp.UDPFlow) -> None:
        message = flow.messages[-1]
        if not message.from_client:
            return
        kept = self._stream_bytes.get(flow.id, 0)
        room = self.max_stream_bytes - kept
        if room <= 0:
            return
        data = message.content[:room]
        self._stream_bytes[flow.id] = kept + len(data)
        self.log.write(records.stream_data_record(flow.id, data, message.timestamp, len(data) < len(message.content)))

    def _stream_end(self, flow: tcp.TCPFlow | udp.UDPFlow) -> None:
        if self._stream_bytes.pop(flow.id, None) is None:
            return
        server_bytes = sum(len(m.content) for m in flow.messages if not m.from_client)
        self.log.write({"kind": "stream_end", "id": flow.id, "ts": time.time(),
                        "error": flow.error.msg if flow.error else "", "server_bytes": server_bytes})

    def _attribute(self, flow: http.HTTPFlow) -> None:
        if self.resolve_app is None or APP_METADATA_KEY in flow.metadata or not flow.client_conn.peername:
            return
        peer = flow.client_conn.peername
        app = self.resolve_app((str(peer[0]), int(peer[1])))
        if app:
            flow.metadata[APP_METADATA_KEY] = app
