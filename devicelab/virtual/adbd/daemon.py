"""adbd of a virtual handset: a TCP listener for the lifetime of the lab, serving the adb
transport only while the handset's Android (or recovery) runs, and registered with the adb
server emulator-style so the handset appears there as a USB handset would."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from devicelab.virtual import image
from devicelab.virtual.adbd import protocol, registration
from devicelab.virtual.adbd.connection import AdbConnection
from devicelab.virtual.adbd.services import open_service
from devicelab.virtual.adbd.stream import Handler
from devicelab.virtual.handset import BootState

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)

#: Re-registration pace while the adb server has not (re)connected: adb 29 ignores a
#: registration for ~250 ms after the previous transport's socket closed (it still lists it
#: `offline`), so ask often at first, then back off (the server may be gone for good).
RETRY_INTERVAL = 0.05
RETRY_FAST_FOR = 1.5
RETRY_MAX = 2.0
#: The console/adb port pairs every adb server probes at start-up (emulator-5554 .. 5584).
SCANNED_PORTS = (5554, 5586)


class AdbDaemon:
    """Lifecycle: `bind()` once, then `start()`/`stop()` with each boot, `close()` at the end."""

    def __init__(self, handset: VirtualHandset, *, host: str = "127.0.0.1", adb_server_port: int = 5037) -> None:
        self.handset = handset
        self.host = host
        self.adb_server_port = adb_server_port
        self.port = 0
        self.running = False
        self.register = True  # announce to the adb server (off for tests that connect by hand)
        self.connections: set[AdbConnection] = set()
        self._server: asyncio.Server | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._links_changed = asyncio.Event()
        self._restart: asyncio.Task[None] | None = None
        self._announced = False  # registered with the adb server at least once

    @property
    def serial(self) -> str:
        """The adb serial the server gives an emulator whose adbd listens on `port`."""
        return f"emulator-{self.port - 1}"

    @property
    def attached(self) -> bool:
        """Whether an adb server holds a live transport to this adbd."""
        return any(c.connected for c in self.connections)

    # -- lifecycle -----------------------------------------------------------------------
    async def bind(self) -> None:
        """Open the listening socket (kept until close(), so no other process takes the port)."""
        for _attempt in range(20):
            server = await asyncio.start_server(self._accept, self.host, 0)
            port: int = server.sockets[0].getsockname()[1]
            if not SCANNED_PORTS[0] <= port <= SCANNED_PORTS[1]:
                self._server, self.port = server, port
                return
            # Every adb server attaches whatever speaks adbd there when it starts.
            server.close()
            await server.wait_closed()
        raise OSError("the OS keeps handing out ports in adb's emulator scan range")

    async def start(self) -> None:
        """adbd starts: serve connections and announce the handset to the adb server."""
        self.running = True
        if self.register and (self._supervisor is None or self._supervisor.done()):
            self._announced = True
            self._supervisor = asyncio.create_task(self._stay_registered())

    async def stop(self) -> None:
        """adbd dies (reboot, power off): every link drops; the server forgets the handset."""
        self.running = False
        for task in (self._supervisor, self._restart):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._supervisor = None
        await self.drop_connections()

    async def close(self) -> None:
        """Stop, release the port, and wait until the adb server has forgotten the handset."""
        await self.stop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._announced:
            await registration.wait_forgotten(self.adb_server_port, self.serial)

    async def drop_connections(self) -> None:
        """Cut every link at once, as a pulled cable does (also the fault-injection hook)."""
        connections = list(self.connections)
        await asyncio.gather(*(c.close() for c in connections))

    def restart_soon(self) -> None:
        """adbd restarts itself (root/unroot): links drop, then the server reconnects."""
        if self._restart is None or self._restart.done():
            self._restart = asyncio.create_task(self.drop_connections())

    # -- connections ---------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.running:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        connection = AdbConnection(
            reader, writer, banner=self._banner, open_service=self._open_service,
            on_change=self._links_changed.set, name=f"{self.handset.name} adbd", auth=self.handset.usb,
        )
        self.connections.add(connection)
        try:
            await connection.serve()
        finally:
            self.connections.discard(connection)
            self._links_changed.set()

    async def _open_service(self, name: str) -> Handler | None:
        if not self.running:
            return None
        return await open_service(self.handset, self, name)

    def _banner(self) -> bytes:
        handset = self.handset
        if handset.system is not None:
            props = handset.system.props
        else:
            try:
                props = handset.installed_build().system_properties()
            except image.ImageError:  # an unbootable slot still gets a recovery banner
                props = {}
        state = {BootState.RECOVERY: "recovery", BootState.SIDELOAD: "sideload"}.get(handset.state, "device")
        return protocol.banner(state, props)

    async def _stay_registered(self) -> None:
        """While running, make sure the adb server holds a transport to this adbd."""
        loop = asyncio.get_running_loop()
        detached_since = loop.time()
        while self.running:
            self._links_changed.clear()
            if self.attached:
                await self._links_changed.wait()
                detached_since = loop.time()
                continue
            await registration.register_emulator(self.adb_server_port, self.port)
            waited = loop.time() - detached_since
            delay = RETRY_INTERVAL if waited < RETRY_FAST_FOR else min(RETRY_MAX, waited / 4)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._links_changed.wait(), delay)
