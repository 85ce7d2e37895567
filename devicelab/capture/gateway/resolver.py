"""The gateway's DNS resolver: every query a handset sends (to any address: the gateway's rules
redirect port 53 here) is logged, and answered from the lab's upstream.

`upstream(name)` gives the IPv4 address the lab's internet serves a name at, or None (NXDOMAIN).
Queries of other types get an empty answer. The DNS format is mitmproxy's (`mitmproxy.dns`).
Sockets are made by `open_sockets`, called in the gateway's namespace; the serving threads may run
anywhere.
"""

from __future__ import annotations

import ipaddress
import json
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from mitmproxy import dns
from mitmproxy.net.dns import types as dns_types

Upstream = Callable[[str], str | None]
Spawn = Callable[[Callable[[], None], str], threading.Thread]
NXDOMAIN = 3
FORMERR = 1
TCP_READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class Query:
    ts: float
    client: str  # ip:port
    transport: str  # udp / tcp
    name: str
    type: str
    answer: str  # the address given, or "" (NXDOMAIN / no record)

    def as_record(self) -> dict[str, Any]:
        return {"kind": "dns_query", **asdict(self)}


class Resolver:
    def __init__(self, udp: socket.socket, tcp: socket.socket, upstream: Upstream, log_path: Path,
                 spawn: Spawn | None = None) -> None:
        self.udp, self.tcp, self.upstream = udp, tcp, upstream
        self.queries: list[Query] = []
        self._log: TextIO = log_path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # its replies come from the gateway's namespace: the thread is started there (`NsThread.spawn`)
        self._thread = (spawn or _thread)(self._serve, "gateway-dns")

    @staticmethod
    def open_sockets(port: int) -> tuple[socket.socket, socket.socket]:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        for sock in (udp, tcp):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))  # noqa: S104 - the gateway's own namespace: every handset link
        tcp.listen(16)
        return udp, tcp

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.udp, selectors.EVENT_READ, "udp")
            sel.register(self.tcp, selectors.EVENT_READ, "tcp")
            while not self._stop.is_set():
                for key, _ in sel.select(0.1):
                    try:
                        if key.data == "udp":
                            data, peer = self.udp.recvfrom(4096)
                            reply = self.answer(data, peer, "udp")
                            if reply:
                                self.udp.sendto(reply, peer)
                        else:
                            conn, peer = self.tcp.accept()
                            threading.Thread(target=self._tcp_client, args=(conn, peer), daemon=True).start()
                    except OSError:
                        continue

    def _tcp_client(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        conn.settimeout(TCP_READ_TIMEOUT)
        with conn:
            try:
                while head := _read_exact(conn, 2):
                    data = _read_exact(conn, struct.unpack("!H", head)[0])
                    reply = self.answer(data, peer, "tcp")
                    if not reply:
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                return

    def answer(self, data: bytes, peer: tuple[str, int], transport: str) -> bytes:
        try:
            message = dns.Message.unpack(data)
        except Exception:  # a malformed query: logged as such, answered with nothing
            self._note(Query(time.time(), f"{peer[0]}:{peer[1]}", transport, "", "malformed", ""))
            return b""
        answers: list[dns.ResourceRecord] = []
        known = False
        for question in message.questions:
            address = self.upstream(question.name.lower().rstrip("."))
            known = known or address is not None
            if address is not None and question.type == dns_types.A:
                answers.append(dns.ResourceRecord.A(question.name, ipaddress.IPv4Address(address)))
            self._note(Query(time.time(), f"{peer[0]}:{peer[1]}", transport, question.name,
                             dns_types.to_str(question.type), address or ""))
        if not message.questions:
            return message.fail(FORMERR).packed
        # a known name without a record of the asked type: an empty answer, as a real server gives
        return message.succeed(answers).packed if known else message.fail(NXDOMAIN).packed

    def _note(self, query: Query) -> None:
        with self._lock:
            self.queries.append(query)
            self._log.write(json.dumps(query.as_record()) + "\n")
            self._log.flush()

    def stop(self) -> list[Query]:
        self._stop.set()
        self._thread.join(5.0)
        for sock in (self.udp, self.tcp):
            sock.close()
        with self._lock:
            self._log.close()
            return list(self.queries)


def _thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _read_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data
