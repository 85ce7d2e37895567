"""Byte channels the handset's HTTP client speaks over: plain TCP, or TLS run over memory BIOs.

Running TLS by hand lets a client judge the server's certificate at the moment a real Android
TrustManager does, inside the handshake: with TLS 1.3 the client's Finished message is still
unsent when the chain is known, so a pinning app that refuses the key closes the connection and
the server (or a MITM proxy) sees a failed handshake, never a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable

READ = 64 * 1024


class Channel:
    """Plain TCP."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, timeout: float) -> bytes:
        """Up to 64 KiB; b"" at end of stream; TimeoutError after `timeout` seconds of silence."""
        return await asyncio.wait_for(self.reader.read(READ), timeout)

    def close(self) -> None:
        self.writer.close()


class TlsChannel(Channel):
    """TLS client over an established TCP stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: ssl.SSLObject,
                 incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO) -> None:
        super().__init__(reader, writer)
        self.tls = tls
        self._in = incoming
        self._out = outgoing

    @classmethod
    async def handshake(
        cls, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext,
        server_hostname: str, timeout: float, check: Callable[[bytes], None] | None = None,
    ) -> TlsChannel:
        """Handshake with SNI and verification; `check(leaf_der)` may raise to refuse the
        server before the client's last flight is sent. ssl errors and TimeoutError propagate."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=False, server_hostname=server_hostname)
        channel = cls(reader, writer, tls, incoming, outgoing)
        deadline = time.monotonic() + timeout
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await channel._flush()
                data = await asyncio.wait_for(reader.read(READ), max(0.0, deadline - time.monotonic()))
                if not data:
                    raise ssl.SSLEOFError("the server closed the connection during the handshake") from None
                incoming.write(data)
            except ssl.SSLError:
                with contextlib.suppress(Exception):  # the alert a real client sends
                    await channel._flush()
                raise
        if check is not None:
            der = tls.getpeercert(binary_form=True)
            check(der or b"")
        await channel._flush()
        return channel

    async def _flush(self) -> None:
        data = self._out.read()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def send(self, data: bytes) -> None:
        self.tls.write(data)
        await self._flush()

    async def recv(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.tls.read(READ)
            except ssl.SSLWantReadError:
                await self._flush()  # TLS 1.3 may answer session tickets or key updates
                data = await asyncio.wait_for(self.reader.read(READ), max(0.0, deadline - time.monotonic()))
                if not data:
                    if self._in.eof:
                        return b""  # the peer closed without close_notify, as many servers do
                    self._in.write_eof()
                    continue
                self._in.write(data)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    def close(self) -> None:
        with contextlib.suppress(ssl.SSLError, OSError):
            self.tls.unwrap()
        with contextlib.suppress(Exception):
            self.writer.write(self._out.read())
        self.writer.close()
