"""The virtual internet's UDP services, in its own network namespace behind the lab's gateway:
an SNTP server for every host it is told of (`time.android.com` and the like).

Every datagram answered is kept (`answered`): the ground truth the gateway's connection table is
reconciled with. The sockets are made and served by threads that live in that namespace.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from devicelab.capture.gateway.nsthread import NETNS_DIR, NsThread

NTP_PORT = 123
NTP_EPOCH = 2_208_988_800  # seconds from 1900 to 1970


@dataclass(frozen=True)
class Datagram:
    host: str
    client: tuple[str, int]
    server: tuple[str, int]
    size_in: int
    size_out: int
    ts: float


def ntp_answer(request: bytes, now: float) -> bytes:
    """A server's (mode 4, stratum 2) reply to an SNTP request: the client's transmit time echoed."""
    seconds = int(now) + NTP_EPOCH
    fraction = int((now % 1) * 2**32)
    stamp = struct.pack("!II", seconds, fraction)
    return (bytes([0x1C, 2, request[2] if len(request) > 2 else 6, 0xEC]) + b"\x00" * 8 + b"LAB\x00"
            + stamp + request[40:48].ljust(8, b"\x00") + stamp + stamp)


class UdpServices:
    def __init__(self, on_answer: Callable[[Datagram], None] | None = None) -> None:
        self.on_answer = on_answer
        self.answered: list[Datagram] = []
        self._lock = threading.Lock()
        self._sockets: dict[tuple[str, str], socket.socket] = {}
        self._workers: dict[str, NsThread] = {}

    def serve(self, namespace: str, hosts: dict[str, str]) -> None:
        """Answer NTP at each host's address inside `namespace` (again: a no-op)."""
        self._prune()
        worker = self._workers.get(namespace)
        if worker is None:
            worker = self._workers[namespace] = NsThread(namespace)
        for host, address in sorted(hosts.items()):
            if (namespace, address) in self._sockets:
                continue
            sock = worker.call(_bind, address)
            self._sockets[(namespace, address)] = sock
            worker.spawn(lambda s=sock, h=host, a=address: self._serve(s, h, a), f"ntp-{host}")  # type: ignore[misc]

    def _serve(self, sock: socket.socket, host: str, address: str) -> None:
        while True:
            try:
                data, peer = sock.recvfrom(2048)
            except OSError:
                return
            if len(data) < 48 or data[0] & 0x07 != 3:
                continue  # not an NTP client request: a real server stays silent
            reply = ntp_answer(data, time.time())
            try:
                sock.sendto(reply, peer)
            except OSError:
                continue
            datagram = Datagram(host, peer, (address, NTP_PORT), len(data), len(reply), time.time())
            with self._lock:
                self.answered.append(datagram)
                if self.on_answer is not None:
                    self.on_answer(datagram)

    def _prune(self) -> None:
        """Let go of namespaces a gateway removed (a thread still inside one would keep it alive)."""
        for namespace in [ns for ns in self._workers if not os.path.exists(f"{NETNS_DIR}/{ns}")]:
            for key in [k for k in self._sockets if k[0] == namespace]:
                self._sockets.pop(key).close()
            self._workers.pop(namespace).close()

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()


def _bind(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, NTP_PORT))
    return sock
