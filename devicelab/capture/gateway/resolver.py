"""The gateway's DNS resolver: every query a handset sends (to any address: the gateway's rules
redirect port 53 here) is logged, and answered from the lab's upstream.

`upstream(name)` gives the IPv4 address the lab's internet serves a name at, or None (NXDOMAIN).
Queries of other types get an empty answer. The DNS format is mitmproxy's (`mitmproxy.dns`).
Sockets are made by `open_sockets`, called in the gateway's namespace; the serving threads may run
anywhere.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
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

from devicelab.errors import CaptureError

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
    def open_sockets(port: int, host: str = "0.0.0.0") -> tuple[socket.socket, socket.socket]:  # noqa: S104
        """Port 0: a free port, the same one for UDP and TCP (the rules redirect both to it)."""
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                for sock in (udp, tcp):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                udp.bind((host, port))  # the gateway namespace: every link; a lab's host: its interface
                tcp.bind((host, udp.getsockname()[1]))
            except OSError as exc:
                udp.close()
                tcp.close()
                if port or exc.errno != errno.EADDRINUSE:
                    raise CaptureError(f"the gateway's resolver cannot listen on port {port}: {exc}") from None
                continue  # the free UDP port is taken for TCP: try another
            tcp.listen(16)
            return udp, tcp
        raise CaptureError("the gateway's resolver found no port free for both UDP and TCP")

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


RESOLV_CONF = Path("/etc/resolv.conf")
UPSTREAM_TIMEOUT = 2.0  # per server: the resolver answers one query at a time


def host_upstream(conf: Path = RESOLV_CONF, timeout: float = UPSTREAM_TIMEOUT) -> Upstream:
    """A physical lab's upstream: the host's own name servers (resolv.conf), asked for A records
    over UDP, each bounded. Made for the real internet; tests pass a lab's book instead."""
    servers = [line.split()[1] for line in conf.read_text(encoding="utf-8", errors="replace").splitlines()
               if line.startswith("nameserver") and len(line.split()) > 1] if conf.exists() else []

    def lookup(name: str) -> str | None:
        query = dns.Message(timestamp=0, id=int.from_bytes(os.urandom(2), "big"), query=True, op_code=0,
                            authoritative_answer=False, truncation=False, recursion_desired=True,
                            recursion_available=False, reserved=0, response_code=0,
                            questions=[dns.Question(name, dns_types.A, 1)], answers=[], authorities=[],
                            additionals=[])
        for server in servers:
            with socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(timeout)
                try:
                    sock.sendto(query.packed, (server, 53))
                    reply = dns.Message.unpack(sock.recv(4096))
                except (OSError, ValueError):
                    continue  # the next server
            if reply.id != query.id:
                continue
            return next((str(a.ipv4_address) for a in reply.answers if a.type == dns_types.A), None)
        return None

    return lookup
