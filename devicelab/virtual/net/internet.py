"""The virtual internet of one lab: a loopback responder per host name, the lab's DNS that maps
names to them, and the root CA that signs their certificates.

Nothing here reaches the real network: every responder listens on 127.0.0.1, and the handsets
resolve names only through `resolver`. The capture side routes its proxy's upstream
connections with `upstream_hosts()` and trusts `root_ca_pem_path()`.

With `received_log`, every answered request is also appended to that file (devicelab.virtual.net.
received): what the lab's internet really got, through a proxy or straight from a handset.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
import ssl
import tempfile
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from devicelab.errors import ConfigError
from devicelab.model.builds import Build, available_builds, load_build
from devicelab.virtual.net import pki, responders
from devicelab.virtual.net.dns import LabResolver, display_address, is_ip, normalize
from devicelab.virtual.net.http1 import ReceivedRequest
from devicelab.virtual.net.received import ReceivedLog
from devicelab.virtual.net.responders import Responder, Site
from devicelab.virtual.net.server import HostServer
from devicelab.virtual.net.udp import Datagram, UdpServices

log = logging.getLogger(__name__)
#: NTP servers a handset asks (AOSP's default; OEM builds may name their own)
UDP_HOSTS = ("time.android.com",)


def manifest_hosts(builds: Iterable[Build] = ()) -> set[str]:
    """Every host a shipped build (and the given ones) talks to."""
    return {app.host for build in _all_builds(builds) for app in build.traffic}


def manifest_ntp_hosts(builds: Iterable[Build] = ()) -> set[str]:
    """The hosts builds' clients ask for the time (udp://host:123)."""
    return {app.host for build in _all_builds(builds) for app in build.traffic
            if app.scheme == "udp" and app.port == 123}


def _all_builds(builds: Iterable[Build]) -> list[Build]:
    all_builds = list(builds)
    for name in available_builds():
        try:
            all_builds.append(load_build(name))
        except ConfigError as exc:  # a broken manifest is reported where it is used, not here
            log.warning("virtual internet: skipping %s", exc)
    return all_builds


class VirtualInternet:
    """Start with `await start()` on the lab's loop; `stop()` closes every responder."""

    def __init__(self, builds: Iterable[Build] = (), sites: dict[str, Site] | None = None, *,
                 received_log: Path | None = None) -> None:
        self._builds = tuple(builds)
        self.received_log_path = received_log
        self.received: ReceivedLog | None = None
        #: (handset's local port, server port) of the connections a handset opened straight to a host
        self._direct: dict[tuple[int, int], str] = {}
        self._connections = itertools.count(1)
        self._sites = dict(responders.SITES if sites is None else sites)
        self.resolver = LabResolver()
        self.requests: deque[ReceivedRequest] = deque(maxlen=10_000)
        self.tls_failures: deque[tuple[str, str]] = deque(maxlen=1_000)
        self._servers: dict[str, HostServer] = {}
        self._leaf_pins: dict[str, str] = {}
        self._dir: Path | None = None
        self._ca: pki.Credential | None = None
        self._ca_key: object = None
        self._arrived = asyncio.Event()
        #: behind a lab gateway: the UDP services in the internet's own namespace
        self.udp = UdpServices(self._datagram)

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        if self.received_log_path is not None:
            try:
                self.received = ReceivedLog(self.received_log_path)
            except OSError as exc:
                raise ConfigError(str(self.received_log_path), "", f"cannot write the received log: "
                                  f"{exc.strerror or exc}") from None
        self._dir = Path(tempfile.mkdtemp(prefix="devicelab-internet-"))
        ca, key = pki.make_root_ca()
        self._ca, self._ca_key = ca, key
        (self._dir / "root-ca.pem").write_bytes(ca.cert_pem)
        for host in sorted(manifest_hosts(self._builds) - set(self._sites)):
            self._sites[host] = Site(responders.generic)
        try:
            for host, site in sorted(self._sites.items()):
                await self.add_host(host, site.responder, site.aliases)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        self.udp.close()
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            await server.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        if self.received is not None:
            self.received.close()
            self.received = None

    async def add_host(self, name: str, responder: Responder, aliases: Iterable[str] = ()) -> tuple[str, int]:
        """Serve one more host (a test's own site); returns its address."""
        if self._ca is None or self._dir is None:
            raise RuntimeError("the virtual internet is not running")
        host = normalize(name)
        if host in self._servers:
            raise ValueError(f"{host} is already served")
        aliases = tuple(aliases)
        leaf = pki.make_leaf(host, self._ca, self._ca_key, tuple(a for a in aliases if not is_ip(a)))  # type: ignore[arg-type]
        cert_path, key_path = self._dir / f"{host}.pem", self._dir / f"{host}.key"
        cert_path.write_bytes(leaf.cert_pem + self._ca.cert_pem)
        key_path.write_bytes(leaf.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        context.set_alpn_protocols(["http/1.1"])
        server = HostServer(host, responder, context, self._record, self._record_tls_failure, on_answer=self._answered,
                            origin_of=self._origin, connections=self._connections.__next__)
        port = await server.start()
        self._servers[host] = server
        self._leaf_pins[host] = pki.spki_pin(leaf.cert)
        self.resolver.add(host, ("127.0.0.1", port), aliases)
        return "127.0.0.1", port

    def udp_hosts(self) -> tuple[str, ...]:
        """The names the lab answers over UDP behind a gateway (NTP)."""
        return tuple(sorted(set(UDP_HOSTS) | manifest_ntp_hosts(self._builds)))

    def serve_udp(self, namespace: str, hosts: dict[str, str]) -> None:
        """Answer the UDP hosts (NTP) at their public addresses inside the gateway's internet namespace."""
        self.udp.serve(namespace, hosts)

    # -- what the capture side needs -----------------------------------------------------
    def upstream_names(self) -> dict[str, str]:
        """Address as the handsets' socket tables show it -> host name (the lab's DNS, reversed)."""
        return {display_address(name): name for name in self.resolver.records() if not is_ip(name)}

    def upstream_hosts(self) -> dict[str, tuple[str, int]]:
        """Host name (and alias) -> the loopback address of its responder."""
        return self.resolver.records()

    def root_ca_pem_path(self) -> Path:
        if self._dir is None:
            raise RuntimeError("the virtual internet is not running")
        return self._dir / "root-ca.pem"

    def root_ca_pem(self) -> bytes:
        if self._ca is None:
            raise RuntimeError("the virtual internet is not running")
        return self._ca.cert_pem

    def root_ca_store_name(self) -> str:
        """The file name of the root in Android's CA store: `<subject_hash_old>.0`."""
        if self._ca is None:
            raise RuntimeError("the virtual internet is not running")
        return pki.android_store_name(self._ca.cert)

    def spki_pin(self, host: str) -> str:
        """The real server key of `host` as a pinning app ships it (`sha256/...`)."""
        return self._leaf_pins[normalize(host)]

    # -- what arrived --------------------------------------------------------------------
    def _record(self, request: ReceivedRequest) -> None:
        self.requests.append(request)
        self._arrived.set()
        self._arrived = asyncio.Event()
        #: behind a lab gateway: the UDP services in the internet's own namespace
        self.udp = UdpServices()

    def _answered(self, request: ReceivedRequest, status: int) -> None:
        if self.received is not None:
            self.received.write(request, status)

    def _datagram(self, datagram: Datagram) -> None:
        if self.received is not None:  # written from the service's thread: the log's writes are line-atomic
            self.received.write_datagram(datagram.ts, datagram.host, datagram.server[0], "ntp",
                                         f"{datagram.client[0]}:{datagram.client[1]}")

    def direct_connection(self, local_port: int, server_port: int, handset: str) -> Callable[[], None]:
        """A handset opened a connection straight to a host (no proxy): its requests are marked as
        the handset's. Returns the call that forgets it, once the handset closed it."""
        key = (local_port, server_port)
        self._direct[key] = handset

        def forget() -> None:
            if self._direct.get(key) == handset:
                del self._direct[key]

        return forget

    def _origin(self, peer: tuple[str, int], server_port: int) -> str:
        return self._direct.get((peer[1], server_port), "")

    def _record_tls_failure(self, host: str, problem: str) -> None:
        self.tls_failures.append((host, problem))

    def requests_to(self, host: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.host == host]

    async def wait_for(self, match: Callable[[ReceivedRequest], bool], timeout: float) -> ReceivedRequest:
        """The first request (already arrived or arriving within `timeout`) that matches."""

        async def wait() -> ReceivedRequest:
            while True:
                found = next((r for r in self.requests if match(r)), None)
                if found is not None:
                    return found
                await self._arrived.wait()

        return await asyncio.wait_for(wait(), timeout)
