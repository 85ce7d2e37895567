"""adbd of a virtual handset (STUB: accepts and closes; replaced by the real transport)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset


class AdbDaemon:
    def __init__(self, handset: VirtualHandset, *, host: str = "127.0.0.1", adb_server_port: int = 5037) -> None:
        self.handset = handset
        self.host = host
        self.adb_server_port = adb_server_port
        self.port = 0
        self.running = False
        self._server: asyncio.Server | None = None

    @property
    def serial(self) -> str:
        return f"emulator-{self.port - 1}"

    async def bind(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def start(self) -> None:
        self.running = True

    async def stop(self) -> None:
        self.running = False

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
