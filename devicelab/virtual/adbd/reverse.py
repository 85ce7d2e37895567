"""`adb reverse`: a port on the handset that leads to a port on the host, through the adb link.

`reverse:forward:tcp:X;tcp:Y` makes the handset listen on its port X (a real loopback listener,
entered in `handset.local_ports` as every device-local service is); each connection there opens
`tcp:Y` toward the host over the transport that set the rule up, and the adb server connects it to
the host's localhost:Y. Rules belong to that transport: they go when it drops (reboot, cable).
Only a port a rule names is ever opened toward the host: Debian's adb server aborts otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devicelab.virtual.adbd.stream import AdbStream, StreamClosed

if TYPE_CHECKING:
    from devicelab.virtual.adbd.connection import AdbConnection
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)


@dataclass
class Rule:
    device_port: int
    host_port: int
    connection: AdbConnection
    server: asyncio.Server


def _tcp_port(spec: str) -> int | None:
    kind, _, port = spec.partition(":")
    if kind != "tcp" or not port.isdecimal() or not 0 < int(port) < 65536:
        return None
    return int(port)


class Reverse:
    """The reverse rules of one handset (what `adb reverse --list` shows)."""

    def __init__(self, handset: VirtualHandset) -> None:
        self.handset = handset
        self.rules: dict[int, Rule] = {}

    async def serve(self, request: str, stream: AdbStream, connection: AdbConnection) -> None:
        """One `reverse:...` request: answer OKAY or FAIL (+ text), then close, as adbd does."""
        reply = await self._handle(request, connection)
        with contextlib.suppress(StreamClosed):
            await stream.write(reply)
            await stream.wait_sent()

    async def _handle(self, request: str, connection: AdbConnection) -> bytes:
        if request == "list-forward":
            text = "".join(f"UsbFfs tcp:{r.device_port} tcp:{r.host_port}\n" for r in self.rules.values())
            return _framed(text)  # adb reads it as a query: no status, the list alone
        if request == "killforward-all":
            for port in list(self.rules):
                self._remove(port)
            return b"OKAY"
        if request.startswith("killforward:"):
            killed = _tcp_port(request[len("killforward:"):])
            if killed is None or killed not in self.rules:
                return b"FAIL" + _framed(f"listener '{request[len('killforward:'):]}' not found")
            self._remove(killed)
            return b"OKAY"
        if request.startswith("forward:"):
            spec = request[len("forward:"):].removeprefix("norebind:")
            local, _, remote = spec.partition(";")
            device_port, host_port = _tcp_port(local), _tcp_port(remote)
            if device_port is None or host_port is None:
                return b"FAIL" + _framed(f"cannot bind listener: unsupported '{spec}'")
            await self.add(device_port, host_port, connection)
            return b"OKAY"
        return b"FAIL" + _framed(f"unknown reverse request '{request}'")

    async def add(self, device_port: int, host_port: int, connection: AdbConnection) -> None:
        self._remove(device_port)

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            stream = await connection.open_stream(f"tcp:{host_port}")
            if stream is None:  # the host refused (nothing listens on its port): the app sees a reset
                writer.close()
                return
            from devicelab.virtual.adbd.services import pipe

            await pipe(reader, writer, stream)

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        address = server.sockets[0].getsockname()
        self.rules[device_port] = Rule(device_port, host_port, connection, server)
        self.handset.local_ports[device_port] = (address[0], address[1])
        connection.on_close.append(lambda: self._remove(device_port, connection))

    def _remove(self, device_port: int, connection: AdbConnection | None = None) -> None:
        rule = self.rules.get(device_port)
        if rule is None or (connection is not None and rule.connection is not connection):
            return
        del self.rules[device_port]
        self.handset.local_ports.pop(device_port, None)
        rule.server.close()


def _framed(text: str) -> bytes:
    data = text.encode()
    return f"{len(data):04x}".encode() + data
