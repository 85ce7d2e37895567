"""One handset behind the gateway, for `HandsetCapture` in mode `gateway`.

    plan = GatewayPlan.of(config)            # the lab's names get public addresses; mitmproxy routes them
    hg = HandsetGateway(workdir, handset, plan, proxy=capture.address).start()   # before flash/reset
    ...
    accounting = hg.finish(capture)          # the table reconciled, written into the evidence log

Nothing on the handset is set: the lab plugs it into its link (`Handset.network_plug`), or, on a
physical lab, it is on the lab's own network already and the inventory names the interface
(`handsets.N.gateway`): the rules go there (`InterfaceGateway`). The gateway sees it from power-on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from devicelab.capture.gateway import addresses
from devicelab.capture.gateway.accounting import Accounting, reconcile
from devicelab.capture.gateway.gateway import Gateway
from devicelab.capture.gateway.interface import InterfaceGateway
from devicelab.capture.gateway.resolver import Upstream, host_upstream
from devicelab.errors import CaptureError, DevicelabError
from devicelab.handset.network import plug_for
from devicelab.model.inventory import GatewayInterface, GatewayLink

if TYPE_CHECKING:
    from devicelab.capture.config import CaptureConfig
    from devicelab.capture.device_setup import HandsetLike
    from devicelab.capture.proxy import Capture

log = logging.getLogger(__name__)
PLUG_TIMEOUT = 15.0


@dataclass(frozen=True)
class GatewayPlan:
    public: dict[str, str] = field(default_factory=dict)  # host name -> the address the resolver answers
    udp: tuple[str, ...] = ()
    routes: dict[str, tuple[str, int]] = field(default_factory=dict)  # address -> where mitmproxy dials

    @classmethod
    def of(cls, config: CaptureConfig) -> GatewayPlan:
        hosts = dict(config.upstream_hosts)
        names = {key for key in hosts if ":" not in key and not key.replace(".", "").isdigit()}
        public = addresses.assign([*names, config.canary_host, *config.upstream_udp])
        # raw TCP carries no Host header or SNI: mitmproxy finds its server by the address dialled
        routes = {public[name]: hosts[name] for name in names if name in public}
        return cls(public, tuple(config.upstream_udp), routes)


def lab_then(known: Mapping[str, str], upstream: Upstream) -> Upstream:
    """A physical gateway's resolver: the run's own names (the canary host: mitmproxy answers it by
    name, whatever the address) from the plan, every other name from the real internet's DNS."""
    def lookup(name: str) -> str | None:
        return known.get(name.lower().rstrip(".")) or upstream(name)

    return lookup


class HandsetGateway:
    def __init__(self, workdir: Path, handset: HandsetLike, plan: GatewayPlan, *, proxy: tuple[str, int]) -> None:
        self.workdir = workdir
        self.handset = handset
        self.plan = plan
        self.name = "handset"  # one gateway per handset; file names carry no identifier of it
        self.book = addresses.Book(plan.public)
        entry = getattr(handset, "entry", None)
        #: a physical handset's place on the lab's own network (the inventory's `gateway:`)
        self.place: GatewayInterface | None = getattr(entry, "gateway", None)
        self.gateway: Gateway = (
            InterfaceGateway(workdir, self.name, self.place, upstream=lab_then(plan.public, host_upstream()),
                             proxy=proxy)
            if self.place is not None else Gateway(workdir, [self.name], upstream=self.book.lookup, proxy=proxy))
        self.link: GatewayLink | None = None
        self.accounting: Accounting | None = None

    def start(self) -> HandsetGateway:
        if isinstance(self.gateway, InterfaceGateway):
            return self._start_on_interface(self.gateway)
        if getattr(self.handset, "network_plug", None) is None:
            # a handset no lab plugs in is on a network of its own: the namespaces would see nothing,
            # and an empty capture must never read as a clean one
            raise CaptureError("capture mode 'gateway' needs the handset behind devicelab's gateway: name the "
                               "gateway host's interface it is on in the inventory (handsets.N.gateway: {interface, "
                               "kind: hostapd|usb-tether|vlan, address}), or use a lab that plugs its handsets in",
                               serial=self.handset.serial, step="start gateway capture")
        self.gateway.start()
        topo = self.gateway.topology
        assert topo is not None
        hs = topo.handsets[self.name]
        self.link = GatewayLink(namespace=hs.namespace, address=hs.address, dns_server=hs.gateway_address,
                                internet=topo.internet,
                                udp_hosts={n: self.plan.public[n] for n in self.plan.udp if n in self.plan.public})
        try:
            self._plug(self.link)
        except BaseException:
            self.gateway.stop()
            raise
        return self

    def _start_on_interface(self, gateway: InterfaceGateway) -> HandsetGateway:
        """The handset is on the lab's network already (it joined the Wi-Fi, or is tethered): nothing
        is plugged; the rules go onto its interface for the run."""
        gateway.start()
        place = gateway.place
        self.link = GatewayLink(namespace=place.interface, address=place.address, dns_server=gateway.gateway_address)
        return self

    def _plug(self, link: GatewayLink | None) -> None:
        plug_for(self.handset).plug(self.handset.serial, link, timeout=PLUG_TIMEOUT)

    def finish(self, capture: Capture) -> Accounting:
        """Unplug, stop the gateway, reconcile its table with the flows, record it all in the evidence."""
        if self.link is not None and self.place is None:
            try:
                self._plug(None)
            except DevicelabError as exc:
                log.warning("[%s] could not unplug from the gateway: %s", self.handset.serial, exc)
            self.link = None
        summary = self.gateway.stop()
        address = summary.get("handsets", {}).get(self.name, {}).get("address", "")
        flows = capture.read(include_canary=True).flows if capture.running else ()
        accounting = reconcile(self.gateway.tables.get(self.name, []), address, self.gateway.queries,
                               self.gateway.relayed, flows)
        self.accounting = accounting
        (self.workdir / "connections.json").write_text(json.dumps(
            {"handset": address, "counts": accounting.counts(), "unaccounted": accounting.unaccounted,
             "connections": accounting.rows}, indent=1))
        if capture.running:
            for record in accounting.records:
                capture.record(record)
            capture.record({"kind": "gateway", "ts": summary.get("stopped", 0.0), "handset": address,
                            "counts": accounting.counts(), "unaccounted": accounting.unaccounted,
                            "counters": summary.get("counters", {}), "table": "connections.json"})
        return accounting

    def evidence(self) -> list[tuple[Path, str]]:
        stem = self.gateway.workdir
        files = [(p, "gateway packet record (pcap)") for p in sorted(stem.glob("*.pcap"))]
        files += [(stem / "connections.json", "gateway connection table, reconciled (JSON)"),
                  (stem / "dns-queries.ndjson", "gateway DNS queries (JSON Lines)"),
                  (stem / "gateway.json", "gateway summary")]
        return [(p, what) for p, what in files if p.exists()]
