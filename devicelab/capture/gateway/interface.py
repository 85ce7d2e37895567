"""`InterfaceGateway`: the gateway on a physical lab's own interface (a hostapd access point, a USB
tether, a VLAN port), named per handset by the inventory (`handsets.N.gateway`).

    gateway = InterfaceGateway(workdir, "handset", entry.gateway, upstream=host_upstream(), proxy=capture.address)
    gateway.start()   # a table of rules on the interface, the resolver, the TCP relay, the packet record
    gateway.stop()    # the table removed (on every exit path), the record written

The policy is the namespaces' (nft.interface_ruleset): TCP to the run's mitmproxy, DNS to the
resolver, UDP/443 dropped, the rest forwarded and recorded. The lab keeps its addressing (hostapd,
dnsmasq) and its forwarding: devicelab never turns the host's forwarding on. The resolver and the
relay listen on free ports (other runs share the host). The table is `devicelab_gw_<pid>x<hex>`:
a run killed with its rules in place is swept by the next run on that host, as the namespaces are.
Until then its redirects point at dead ports: the handset's TCP and DNS fail closed.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute

from devicelab.capture.gateway import netns, nft, privilege
from devicelab.capture.gateway.gateway import Gateway
from devicelab.capture.gateway.nsthread import NETNS_DIR, NsThread
from devicelab.capture.gateway.resolver import Upstream
from devicelab.errors import CaptureError
from devicelab.model.inventory import GatewayInterface

log = logging.getLogger(__name__)


class InterfaceGateway(Gateway):
    def __init__(self, workdir: Path, name: str, place: GatewayInterface, *, upstream: Upstream,
                 proxy: tuple[str, int]) -> None:
        super().__init__(workdir, [name], upstream=upstream, proxy=proxy)
        self.place = place
        self.table = f"{nft.INTERFACE_PREFIX}{netns.new_run_id()}"
        self.gateway_address = ""  # the interface's own IPv4 address (the handset's router and DNS server)

    def start(self) -> InterfaceGateway:
        place = self.place
        where = f"interface {place.interface}" + (f" (network namespace {place.netns})" if place.netns else "")
        privilege.require(privilege.INTERFACE + (("CAP_SYS_ADMIN",) if place.netns else ()),
                          what=f"nftables rules and a packet record on {where}")
        if place.netns and not Path(f"{NETNS_DIR}/{place.netns}").exists():
            raise CaptureError(f"the gateway's network namespace {place.netns!r} does not exist "
                               "(handsets.N.gateway.netns)", step="start gateway capture")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._gateway = worker = NsThread(place.netns)
        try:
            self.gateway_address = worker.call(_interface_address, place, where)
            stale = worker.call(_sweep_tables)
            if stale:
                log.warning("gateway: removed the rules of runs that died: %s", ", ".join(stale))
            self._serve([(self.names[0], place.interface, place.address)], 0, 0,
                        lambda proxy_port, dns_port: nft.interface_ruleset(
                            self.table, place.interface, place.address, place.uplink,
                            proxy_port=proxy_port, dns_port=dns_port),
                        shared=True, bind=self.gateway_address)  # REDIRECT targets the interface's address
        except BaseException:
            self.stop()
            raise
        self.started = time.time()
        return self

    def rules_present(self) -> bool:
        """Whether this run's table is installed (a check for doctor and tests)."""
        return self._gateway is not None and self.table in self._gateway.call(nft.tables)

    def _remove_rules(self, gateway: NsThread, summary: dict[str, Any]) -> None:
        try:
            gateway.call(nft.delete, self.table)
        except CaptureError as exc:  # the next run's sweep removes it: say so, never hide it
            summary["rules_error"] = str(exc)
            log.error("gateway: the rules on %s were not removed (%s); the next run removes them",
                      self.place.interface, exc)

    def _release(self, summary: dict[str, Any]) -> bool:
        summary.update(table=self.table, interface=self.place.interface, kind=self.place.kind,
                       address=self.place.address)
        return True


def _interface_address(place: GatewayInterface, where: str) -> str:
    """The interface's first IPv4 address; a missing or address-less interface is one clear error."""
    try:
        index = socket.if_nametoindex(place.interface)
    except OSError:
        raise CaptureError(f"the gateway's {where} does not exist on this host: check handsets.N.gateway.interface "
                           f"in the inventory, and that the {place.kind} link is up", step="start gateway capture",
                           interface=place.interface) from None
    with IPRoute() as ipr:
        found = [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(family=socket.AF_INET, index=index)]
    if not found:
        raise CaptureError(f"the gateway's {where} has no IPv4 address: addressing is the lab's (e.g. `ip addr add "
                           f"10.77.0.1/24 dev {place.interface}` and dnsmasq for the handsets)",
                           step="start gateway capture", interface=place.interface)
    return str(found[0])


def _sweep_tables() -> list[str]:
    """Remove the rules of runs on this host whose process is gone."""
    stale = netns.abandoned(nft.tables(), nft.INTERFACE_PREFIX)
    for table in stale:
        nft.delete(table)
    return stale
