"""The fastboot-over-TCP target of a virtual handset: what its bootloader serves.

The lab binds the port once (port 0) and keeps it for its lifetime; the handset's state
machine starts the target when it enters the bootloader and stops it when it leaves. While the
target is stopped the port stays bound but does not listen, so connections are refused, as on
a handset whose bootloader is not running. That is also what real `fastboot` copes with: it
prints `< waiting for tcp:HOST:PORT >` and connects as soon as the target listens, whereas a
connection accepted and closed at once makes fastboot 29 spin on EOF forever.
Real `fastboot -s tcp:HOST:PORT ...` drives it unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import TYPE_CHECKING

from devicelab.model.builds import Bootloader
from devicelab.virtual import image
from devicelab.virtual.fastboot.commands import Session
from devicelab.virtual.fastboot.protocol import (
    FrameReader,
    HandshakeError,
    ProtocolError,
    accept_handshake,
    encode_reply,
)
from devicelab.virtual.fastboot.variables import UNKNOWN_BOOTLOADER, TargetFacts

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_MAX_DOWNLOAD_SIZE = 256 * MiB
#: Real fastboot 29 spins when the target reports a download buffer under 1 MiB.
MIN_MAX_DOWNLOAD_SIZE = 1 * MiB
#: Ports every adb server scans for emulators at start-up.
ADB_SCAN_PORTS = (5555, 5585)


class FastbootTarget:
    """The bootloader's fastboot service of one handset, on a TCP port."""

    def __init__(
        self,
        handset: VirtualHandset,
        *,
        host: str = "127.0.0.1",
        max_download_size: int = DEFAULT_MAX_DOWNLOAD_SIZE,
        handshake_timeout: float = 10.0,
        idle_timeout: float = 300.0,
    ) -> None:
        self.handset = handset
        self.host = host
        self.port = 0
        self.running = False
        self.max_download_size = max_download_size
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        #: the bound, not listening socket that holds the port while the target is stopped
        self._reserved: socket.socket | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._bootloader = UNKNOWN_BOOTLOADER

    @property
    def max_download_size(self) -> int:
        return self._max_download_size

    @max_download_size.setter
    def max_download_size(self, size: int) -> None:
        if size < MIN_MAX_DOWNLOAD_SIZE:
            raise ValueError(f"max download size {size} is under {MIN_MAX_DOWNLOAD_SIZE} (fastboot would spin)")
        self._max_download_size = size

    # -- what the bootloader reports -----------------------------------------------------
    def bootloader(self) -> Bootloader:
        """The bootloader of the installed build; the last one seen when the slot does not boot."""
        with contextlib.suppress(image.ImageError):
            self._bootloader = self.handset.installed_build().bootloader
        return self._bootloader

    def facts(self) -> TargetFacts:
        return TargetFacts(self.handset.hardware.serialno, self.bootloader(), self.max_download_size)

    # -- lifecycle (the Service protocol of the handset) ---------------------------------
    async def bind(self) -> None:
        """Take a port for the lab's lifetime; nothing listens on it until `start`."""
        sock = _reserve(self.host, 0)
        while ADB_SCAN_PORTS[0] <= sock.getsockname()[1] <= ADB_SCAN_PORTS[1]:
            sock.close()  # an adb server probes these ports: keep fastboot out of its way
            sock = _reserve(self.host, 0)
        self._reserved = sock
        self.port = sock.getsockname()[1]
        self.bootloader()

    async def start(self) -> None:
        """Enter the bootloader: listen on the port."""
        if self._server is not None:
            return
        sock = self._reserved if self._reserved is not None else _reserve(self.host, self.port)
        self._reserved = None
        sock.listen()
        self._server = await asyncio.start_server(self._accept, sock=sock)
        self.running = True

    async def stop(self) -> None:
        """Leave the bootloader: stop listening (keeping the port) and drop every client."""
        self.running = False
        if self._server is not None:
            if self._reserved is None:
                self._reserved = _reserve(self.host, self.port)  # before the listener goes: no gap
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        clients = list(self._clients)
        self._clients.clear()
        await asyncio.gather(*(_hang_up(writer) for writer in clients))

    async def close(self) -> None:
        """Release the port for good (the lab is shutting down)."""
        await self.stop()
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None

    async def drop_connections(self) -> int:
        """Hang up on every client (a pulled cable mid-download; the fault-injection hook)."""
        clients = list(self._clients)
        self._clients.clear()
        await asyncio.gather(*(_hang_up(writer) for writer in clients))
        return len(clients)

    # -- connections ---------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.running:  # accepted just before `stop`
            await _hang_up(writer)
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._clients.add(writer)
        try:
            await accept_handshake(reader, writer, self.handshake_timeout)
            await Session(self, FrameReader(reader, self.idle_timeout), writer).run()
        except ProtocolError as exc:
            log.info("%s: fastboot client broke the protocol: %s", self.handset.name, exc)
            if not isinstance(exc, HandshakeError):
                await self._last_word(writer, str(exc))
        except (asyncio.IncompleteReadError, ConnectionError):
            log.debug("%s: fastboot client went away", self.handset.name)
        except TimeoutError:
            log.info("%s: fastboot client idle for too long; dropped", self.handset.name)
        finally:
            self._clients.discard(writer)
            await _hang_up(writer)

    @staticmethod
    async def _last_word(writer: asyncio.StreamWriter, problem: str) -> None:
        """Tell a client that broke the framing why it is being dropped, if it still listens."""
        try:
            writer.write(encode_reply(b"FAIL", problem))
            await asyncio.wait_for(writer.drain(), 1.0)
        except (ConnectionError, TimeoutError):
            pass


async def _hang_up(writer: asyncio.StreamWriter, timeout: float = 1.0) -> None:
    """Close a connection for good: flush what is queued if the peer reads it, else abort."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), timeout)
    except TimeoutError:
        writer.transport.abort()
    except OSError:
        pass  # the peer reset the connection: it is closed either way


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) that does not listen yet.

    SO_REUSEPORT lets the reservation be taken while the old listener still exists, so the port
    is never free for another program to grab between two boots.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
