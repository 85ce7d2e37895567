"""Helpers for the network tests: a booted handset on the current loop, and a tiny recording
HTTP proxy (plain tunnel or TLS-intercepting) that routes to the virtual internet."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import h11

from devicelab.model.builds import Build, load_build
from devicelab.model.sims import SimProfile, load_sim
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.identity import HardwareIdentity
from devicelab.virtual.net import http1, pki
from devicelab.virtual.net.internet import VirtualInternet
from devicelab.virtual.net.stack import HandsetNetwork

T = TypeVar("T")


def run(scenario: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    """Run an async scenario on a fresh loop, bounded."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


async def eventually(condition: Callable[[], bool], timeout: float, step: float = 0.01) -> None:
    """Wait until `condition()` holds; AssertionError after `timeout` host seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


def quiet(build: str | Build) -> Build:
    """A build whose apps send nothing on their own (client tests drive requests by hand)."""
    loaded = load_build(build) if isinstance(build, str) else build
    return loaded.model_copy(update={"traffic": ()})


async def boot(
    internet: VirtualInternet, build: str | Build = "nokia7plus-00WW_3_22C", *, sim: str | SimProfile | None = None,
    scale: float = 240.0, seed: str = "net",
) -> VirtualHandset:
    """A handset with the build installed, on the internet, booted (BOOTED state)."""
    handset = VirtualHandset(seed, HardwareIdentity.generate(seed), sim=load_sim(sim) if isinstance(sim, str) else sim,
                             clock_scale=scale, boot_seconds=0.02, reboot_delay=0.01)
    handset.install(load_build(build) if isinstance(build, str) else build)
    handset.network = HandsetNetwork(handset, internet)
    await handset.power_on()
    await handset.wait_for_state(BootState.BOOTED, 5)
    return handset


@dataclass
class Seen:
    """One thing the proxy saw."""

    method: str
    target: str
    headers: http1.Headers = ()
    body: bytes = b""
    tls: bool = False


@dataclass
class RecordingProxy:
    """An HTTP proxy on 127.0.0.1:0. `mitm`: CONNECT is answered with a certificate of its own
    CA (not trusted by the handset unless installed) and the requests inside are recorded."""

    internet: VirtualInternet
    workdir: Path
    mitm: bool = False
    seen: list[Seen] = field(default_factory=list)
    tls_failures: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.ca, self._ca_key = pki.make_root_ca("Test Interception CA")
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def setting(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reverse(self, handset: VirtualHandset) -> None:
        """What `adb reverse tcp:P tcp:P` leaves on the handset: a listener on its loopback that
        leads to this port (these tests have no adb link). Without it the handset's 127.0.0.1 is
        itself and the proxy setting is refused, as on a phone."""
        handset.local_ports[self.port] = ("127.0.0.1", self.port)

    async def start(self) -> RecordingProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aenter__(self) -> RecordingProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._serve(reader, writer)
        except (OSError, ssl.SSLError, http1.HttpError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        event = await http1.next_event(conn, reader, 5)
        if not isinstance(event, h11.Request):
            return
        method, target = event.method.decode(), event.target.decode()
        if method != "CONNECT":
            body = await http1.read_body(conn, reader, 5)
            self.seen.append(Seen(method, target, http1.raw_headers(event), body))
            host = target.split("://", 1)[1].split("/", 1)[0].split(":")[0]
            path = "/" + target.split("://", 1)[1].partition("/")[2]
            writer.write(await self._forward(host, method, path, http1.raw_headers(event), body, tls=False))
            await writer.drain()
            return
        self.seen.append(Seen("CONNECT", target, http1.raw_headers(event)))
        host = target.rsplit(":", 1)[0]
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        if not self.mitm:
            await self._tunnel(reader, writer, host)
            return
        leaf = pki.make_leaf(host, self.ca, self._ca_key)
        cert, key = self.workdir / f"mitm-{host}.pem", self.workdir / f"mitm-{host}.key"
        cert.write_bytes(leaf.cert_pem + self.ca.cert_pem)
        key.write_bytes(leaf.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        try:
            await writer.start_tls(context, ssl_handshake_timeout=5)
        except (ssl.SSLError, OSError, ConnectionError, TimeoutError) as exc:
            self.tls_failures.append(f"{host}: {exc}")
            return
        inner = h11.Connection(h11.SERVER)
        request = await http1.next_event(inner, reader, 5)
        if not isinstance(request, h11.Request):
            return
        body = await http1.read_body(inner, reader, 5)
        headers = http1.raw_headers(request)
        self.seen.append(Seen(request.method.decode(), request.target.decode(), headers, body, tls=True))
        writer.write(await self._forward(host, request.method.decode(), request.target.decode(), headers, body,
                                         tls=True))
        await writer.drain()

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.internet.resolver.resolve(host))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                with contextlib.suppress(OSError):
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
            finally:
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            up_writer.close()

    async def _forward(self, host: str, method: str, path: str, headers: http1.Headers, body: bytes, *,
                       tls: bool) -> bytes:
        """Send the request on to the lab host; return the raw response for the client."""
        address = self.internet.resolver.resolve(host)
        context = ssl.create_default_context(cafile=str(self.internet.root_ca_pem_path())) if tls else None
        up_reader, up_writer = await asyncio.open_connection(*address, ssl=context,
                                                             server_hostname=host if tls else None)
        try:
            client = h11.Connection(h11.CLIENT)
            out = client.send(h11.Request(method=method, target=path, headers=list(headers))) or b""
            if body:
                out += client.send(h11.Data(data=body)) or b""
            out += client.send(h11.EndOfMessage()) or b""
            up_writer.write(out)
            response = await http1.next_event(client, up_reader, 5)
            assert isinstance(response, h11.Response)
            data = await http1.read_body(client, up_reader, 5)
        finally:
            up_writer.close()
        server = h11.Connection(h11.SERVER)
        server.receive_data(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        server.next_event()
        kept = tuple((k, v) for k, v in http1.raw_headers(response) if k.lower() != "content-length")
        return http1.reply_bytes(server, http1.Reply(response.status_code, kept, data), head_only=method == "HEAD")
