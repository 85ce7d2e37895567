"""The handset on a real network: its own network namespace, behind the lab's gateway.

When the lab plugs a handset into a gateway link (the control channel's `attach_network`), its
apps stop using the in-process path (the lab's DNS table, loopback responders) and do what a phone
does: ask the DNS server the network gave it (over UDP, from a socket in its namespace), then open
kernel sockets toward the address it got. The gateway sees real packets, whatever the app sends.

Sockets are made by a worker thread that lives in the namespace and are then used from the lab's
asyncio loop (a socket stays in the namespace it was made in).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from dataclasses import dataclass

from mitmproxy import dns
from mitmproxy.net.dns import classes as dns_classes
from mitmproxy.net.dns import types as dns_types

from devicelab.capture.gateway.nsthread import NsThread

DNS_TIMEOUT = 5.0  # Android's resolver: 5 s per try
DNS_TRIES = 2


class NameNotFound(Exception):
    """The network's DNS has no address for the name (NXDOMAIN, or no answer in time)."""


@dataclass(frozen=True)
class Link:
    namespace: str
    address: str
    dns_server: str


class KernelNetwork:
    def __init__(self, link: Link) -> None:
        self.link = link
        self.worker = NsThread(link.namespace)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.worker.close()

    def _socket(self, kind: int) -> socket.socket:
        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, kind)
            sock.setblocking(False)
            return sock

        return self.worker.call(make)

    async def resolve(self, name: str, *, qtype: int = dns_types.A) -> str:
        """The first A record the network's DNS gives for `name`."""
        reply = await self.query(name, qtype)
        for answer in reply.answers:
            if answer.type == dns_types.A:
                return str(answer.ipv4_address)
        raise NameNotFound(name)

    async def query(self, name: str, qtype: int = dns_types.A) -> dns.Message:
        """One DNS query over UDP to the network's DNS server (retried once, as Android's resolver does)."""
        loop = asyncio.get_running_loop()
        message = dns.Message(timestamp=0, id=next(self._ids) & 0xFFFF, query=True, op_code=0,
                              authoritative_answer=False, truncation=False, recursion_desired=True,
                              recursion_available=False, reserved=0, response_code=0,
                              questions=[dns.Question(name, qtype, dns_classes.IN)], answers=[], authorities=[],
                              additionals=[])
        sock = self._socket(socket.SOCK_DGRAM)
        try:
            for _ in range(DNS_TRIES):
                await loop.sock_sendto(sock, message.packed, (self.link.dns_server, 53))
                try:
                    while True:
                        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), DNS_TIMEOUT)
                        reply = dns.Message.unpack(data)
                        if reply.id == message.id:
                            return reply
                except TimeoutError:
                    continue
            raise NameNotFound(name)
        finally:
            sock.close()

    async def connect(self, address: tuple[str, int], timeout: float) -> socket.socket:
        loop = asyncio.get_running_loop()
        sock = self._socket(socket.SOCK_STREAM)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    async def datagram(self, address: tuple[str, int], payload: bytes, timeout: float) -> bytes:
        """Send one datagram; the first answer (b"" when none came in `timeout`)."""
        loop = asyncio.get_running_loop()
        sock = self._socket(socket.SOCK_DGRAM)
        try:
            await loop.sock_sendto(sock, payload, address)
            try:
                return await asyncio.wait_for(loop.sock_recv(sock, 65536), timeout)
            except TimeoutError:
                return b""
        finally:
            sock.close()
