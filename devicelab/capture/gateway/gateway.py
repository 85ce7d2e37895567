"""`Gateway`: devicelab as the handsets' router, from before power-on to the end of the run.

    gateway = Gateway(workdir, ["hs-1"], upstream=lab_dns, public=["93.184.216.34"], proxy=capture.address)
    gateway.start()          # namespaces, rules, resolver, TCP relay, one packet record per handset
    gateway.handset("hs-1")  # an NsThread: the handset's sockets are made there
    summary = gateway.stop() # tables written, namespaces removed (also on every error path)

Files in `workdir`: `<handset>.pcap`, `<handset>.connections.json`, `dns-queries.ndjson`, `gateway.json`
(the rules' counters, the relayed connections, the topology).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from devicelab.capture.gateway import netns, nft, privilege
from devicelab.capture.gateway.nsthread import NsThread
from devicelab.capture.gateway.packets import PacketRecorder
from devicelab.capture.gateway.resolver import Query, Resolver, Upstream
from devicelab.capture.gateway.transparent import Relayed, TransparentRelay, open_listener
from devicelab.errors import CaptureError

log = logging.getLogger(__name__)
PROXY_PORT = 8080
DNS_PORT = 5353
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class Gateway:
    def __init__(self, workdir: Path, handsets: Iterable[str], *, upstream: Upstream, public: Iterable[str] = (),
                 proxy: tuple[str, int]) -> None:
        self.workdir = workdir
        self.names = list(handsets)
        self.upstream = upstream
        self.public = list(public)
        self.proxy = proxy
        self.topology: netns.Topology | None = None
        self._gateway: NsThread | None = None
        self._handsets: dict[str, NsThread] = {}
        self._recorders: dict[str, PacketRecorder] = {}
        self._resolver: Resolver | None = None
        self._relay: TransparentRelay | None = None
        self.started = 0.0
        self.table = nft.TABLE
        self.ports = (0, 0)  # where the rules send TCP and DNS (the relay's, the resolver's)
        # what stop() leaves for the reconciliation
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.queries: list[Query] = []
        self.relayed: list[Relayed] = []

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Gateway:
        privilege.require()
        stale = netns.sweep()
        if stale:
            log.warning("gateway: removed namespaces of runs that died: %s", ", ".join(stale))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.topology = netns.build(self.names, self.public)
        try:
            self._start_services(self.topology)
        except BaseException:
            self.stop()
            raise
        self.started = time.time()
        return self

    def _start_services(self, topo: netns.Topology) -> None:
        self._gateway = NsThread(topo.gateway)
        links = [(name, link.gateway_ifname, link.address) for name, link in topo.handsets.items()]
        self._serve(links, PROXY_PORT, DNS_PORT, lambda proxy_port, dns_port: nft.ruleset(
            [ifname for _, ifname, _ in links], "gw-up", proxy_port=proxy_port, dns_port=dns_port))

    def _serve(self, links: list[tuple[str, str, str]], proxy_port: int, dns_port: int,
               rules: Callable[[int, int], str], *, shared: bool = False, bind: str = "0.0.0.0") -> None:  # noqa: S104
        """In the gateway's worker: the resolver and the TCP relay listen on `bind` (port 0: free
        ports), the rules send to them, and one packet record per (handset, interface, address)."""
        gateway = self._gateway
        assert gateway is not None
        udp, tcp = gateway.call(Resolver.open_sockets, dns_port, bind)
        self._resolver = Resolver(udp, tcp, self.upstream, self.workdir / "dns-queries.ndjson", spawn=gateway.spawn)
        self._relay = TransparentRelay(gateway.call(open_listener, proxy_port, bind), self.proxy)
        self.ports = (self._relay.listener.getsockname()[1], udp.getsockname()[1])
        gateway.call(nft.apply, rules(*self.ports))
        for name, ifname, address in links:
            sock = gateway.call(PacketRecorder.open_socket, ifname)
            stem = _SAFE.sub("_", name)
            self._recorders[name] = PacketRecorder(sock, address, self.workdir / f"{stem}.pcap",
                                                   self.workdir / f"{stem}.connections.json", shared=shared)

    def handset(self, name: str) -> NsThread:
        """The worker that makes sockets in handset `name`'s namespace."""
        if self.topology is None or name not in self.topology.handsets:
            raise CaptureError(f"the gateway has no handset {name!r}")
        if name not in self._handsets:
            self._handsets[name] = NsThread(self.topology.handsets[name].namespace)
        return self._handsets[name]

    def link(self, name: str) -> netns.HandsetLink:
        if self.topology is None:
            raise CaptureError("the gateway is not running")
        return self.topology.handsets[name]

    def frames(self, name: str) -> int:
        """Frames recorded so far on handset `name`'s link."""
        return self._recorders[name].frames

    def connections(self, name: str) -> list[dict[str, Any]]:
        """The connection table so far."""
        return self._recorders[name].snapshot()

    def stop(self) -> dict[str, Any]:
        """Stop recording, write the tables and remove the namespaces; safe to call twice."""
        summary: dict[str, Any] = {"started": self.started, "stopped": time.time(), "handsets": {}}
        try:
            if self._gateway is not None:
                try:
                    summary["counters"] = {k: list(v) for k, v in self._gateway.call(nft.counters, self.table).items()}
                except CaptureError as exc:
                    summary["counters_error"] = str(exc)
            for name, recorder in self._recorders.items():
                rows = self.tables[name] = recorder.stop()
                summary["handsets"][name] = {"address": recorder.table.handset_ip, "frames": recorder.frames,
                                             "connections": len(rows), "pcap": recorder.pcap_path.name,
                                             "table": recorder.table_path.name}
            self._recorders = {}
            if self._resolver is not None:
                self.queries = self._resolver.stop()
                summary["dns_queries"] = len(self.queries)
                self._resolver = None
            if self._relay is not None:
                self.relayed = self._relay.stop()
                summary["relayed"] = [{"client": list(r.client), "original": list(r.original), "bytes_up": r.bytes_up,
                                       "bytes_down": r.bytes_down, "proxy_port": r.proxy_port, "error": r.error}
                                      for r in self.relayed]
                self._relay = None
        finally:
            gateway, self._gateway = self._gateway, None
            try:
                if gateway is not None:
                    self._remove_rules(gateway, summary)
            finally:
                for worker in [*self._handsets.values(), *([gateway] if gateway else [])]:
                    worker.close()
                self._handsets = {}
                if self._release(summary) and self.workdir.is_dir():
                    (self.workdir / "gateway.json").write_text(json.dumps(summary, indent=1))
        return summary

    def _remove_rules(self, gateway: NsThread, summary: dict[str, Any]) -> None:
        """Nothing to do here: removing the namespaces takes their tables with them."""

    def _release(self, summary: dict[str, Any]) -> bool:
        """Remove the namespaces; False when there was nothing to remove (never started, or stopped)."""
        if self.topology is None:
            return False
        netns.remove(self.topology)
        summary["run"] = self.topology.run
        self.topology = None
        return True
