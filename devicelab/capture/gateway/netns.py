"""The gateway's topology: one namespace per handset, a gateway namespace, and the virtual
internet's namespace, linked by veth pairs (pyroute2, no shell).

    handset ns  hs0 10.77.N.2/24, default via 10.77.N.1
        veth
    gateway ns  gw-hsN 10.77.N.1 | gw-up 10.78.0.1; forwarding on here only; masquerade out of gw-up
        veth
    internet ns net0 10.78.0.2/24; every address of the lab's range (198.18.0.0/15, addresses.py)
                is local there (an AnyIP route), plus any other address the lab plays (/32)

Nothing here has a route to the root namespace or off the machine: the gateway routes only the
internet's own addresses, so a packet toward any other address finds no route. Each veth is made
inside the gateway namespace with its peer placed straight into the other one: the interfaces never
exist in the root namespace, so their names are fixed; only the namespace names carry the run id.
Names are `dl-<pid>x<hex>-<role>`: `sweep()` removes those whose process is gone (a SIGKILL leaves
them behind); removing a namespace takes its veths and nft table with it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from devicelab.capture.gateway import addresses, privilege
from devicelab.capture.gateway.nsthread import NETNS_DIR, NsThread
from devicelab.errors import CaptureError

PREFIX = "dl-"
UPLINK_GATEWAY, UPLINK_INTERNET = "10.78.0.1", "10.78.0.2"
LINK_UP_TIMEOUT = 5.0


@dataclass(frozen=True)
class HandsetLink:
    """One handset's side of the gateway."""

    name: str  # the handset's name in the lab
    namespace: str
    address: str  # the handset's address (hs0)
    gateway_address: str  # the gateway's address on its link (also the handset's DNS server)
    gateway_ifname: str  # the gateway's interface toward it (where packets are recorded)


@dataclass
class Topology:
    run: str
    gateway: str
    internet: str
    handsets: dict[str, HandsetLink] = field(default_factory=dict)
    public: list[str] = field(default_factory=list)

    @property
    def namespaces(self) -> list[str]:
        return [self.gateway, self.internet, *(link.namespace for link in self.handsets.values())]


def new_run_id() -> str:
    """`<pid>x<hex>`: what a run names its namespaces and tables after."""
    return f"{os.getpid()}x{secrets.token_hex(3)}"


def abandoned(names: Iterable[str], prefix: str) -> list[str]:
    """The names `prefix` + a run id whose process is gone (a SIGKILL leaves them behind)."""
    found = []
    for name in names:
        pid = name[len(prefix):].split("x", 1)[0] if name.startswith(prefix) else ""
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            found.append(name)
    return found


def build(handsets: Iterable[str], public: Iterable[str] = (), *, run: str | None = None) -> Topology:
    """Create the namespaces and links; on any failure, what was made is removed again."""
    privilege.require()
    names = list(handsets)
    if not names or len(names) > 250:
        raise CaptureError(f"a gateway serves 1-250 handsets, got {len(names)}")
    run = run or new_run_id()
    topo = Topology(run, gateway=f"{PREFIX}{run}-gw", internet=f"{PREFIX}{run}-net")
    try:
        for ns in (topo.gateway, topo.internet):
            _create(ns)
        for index, name in enumerate(names):
            link = HandsetLink(name, f"{PREFIX}{run}-hs{index}", f"10.77.{index}.2", f"10.77.{index}.1",
                               f"gw-hs{index}")
            _create(link.namespace)
            topo.handsets[name] = link
        _wire(topo)
        for address in public:
            add_public(topo, address)
    except BaseException:
        remove(topo)
        raise
    return topo


def _create(name: str) -> None:
    try:
        netns.create(name)
    except (OSError, NetlinkError) as exc:
        raise CaptureError(f"cannot create network namespace {name}: {exc}") from None


def _wire(topo: Topology) -> None:
    gateway = NsThread(topo.gateway)
    try:
        gateway.call(_wire_gateway, topo)
    finally:
        gateway.close()
    for ns, setup in ([(topo.internet, _wire_internet)]
                      + [(link.namespace, _wire_handset(link)) for link in topo.handsets.values()]):
        worker = NsThread(ns)
        try:
            worker.call(setup)
        finally:
            worker.close()


def _wire_gateway(topo: Topology) -> None:
    with IPRoute() as ipr:
        _up(ipr, "lo")
        links = [("gw-up", "net0", topo.internet, UPLINK_GATEWAY)]
        links += [(link.gateway_ifname, "hs0", link.namespace, link.gateway_address) for link in topo.handsets.values()]
        for ifname, peer, peer_ns, address in links:
            ipr.link("add", ifname=ifname, kind="veth", peer={"ifname": peer, "net_ns_fd": peer_ns})
            index = ipr.link_lookup(ifname=ifname)[0]
            ipr.addr("add", index=index, address=address, prefixlen=24)
            ipr.link("set", index=index, state="up")
        ipr.route("add", dst=str(addresses.NETWORK), gateway=UPLINK_INTERNET)
    # inside this namespace only: the root namespace's forwarding is never touched
    with open("/proc/sys/net/ipv4/ip_forward", "w", encoding="ascii") as forward:
        forward.write("1")


def _wire_internet() -> None:
    with IPRoute() as ipr:
        _up(ipr, "lo")
        index = ipr.link_lookup(ifname="net0")[0]
        ipr.addr("add", index=index, address=UPLINK_INTERNET, prefixlen=24)
        ipr.link("set", index=index, state="up")
        _wait_up(ipr, "net0")
        # AnyIP: the whole lab range is this namespace's own, whatever name the resolver gave out
        ipr.route("add", dst=str(addresses.NETWORK.network_address), dst_len=addresses.NETWORK.prefixlen,
                  type="local", table=255, scope=254, proto=2, oif=ipr.link_lookup(ifname="lo")[0])


def _wire_handset(link: HandsetLink) -> Callable[[], None]:
    def wire() -> None:
        with IPRoute() as ipr:
            _up(ipr, "lo")
            index = ipr.link_lookup(ifname="hs0")[0]
            ipr.addr("add", index=index, address=link.address, prefixlen=24)
            ipr.link("set", index=index, state="up")
            _wait_up(ipr, "hs0")
            ipr.route("add", dst="0.0.0.0/0", gateway=link.gateway_address)

    return wire


def _up(ipr: IPRoute, ifname: str) -> None:
    ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up")


def _wait_up(ipr: IPRoute, ifname: str) -> None:
    """A veth can report DOWN for a moment right after setup."""
    deadline = time.monotonic() + LINK_UP_TIMEOUT
    while time.monotonic() < deadline:
        link = ipr.get_links(ipr.link_lookup(ifname=ifname)[0])[0]
        if link.get("operstate") == "UP":
            return
        time.sleep(0.01)
    raise CaptureError(f"{ifname} did not come up within {LINK_UP_TIMEOUT:g} s")


def add_public(topo: Topology, address: str) -> None:
    """The virtual internet answers at `address` (a /32 on its loopback); the gateway routes it there."""
    ip = str(ipaddress.IPv4Address(address))

    def on_internet() -> None:
        with IPRoute() as ipr:
            ipr.addr("add", index=ipr.link_lookup(ifname="lo")[0], address=ip, prefixlen=32)

    def on_gateway() -> None:
        with IPRoute() as ipr:
            ipr.route("add", dst=f"{ip}/32", gateway=UPLINK_INTERNET)

    for ns, job in ((topo.internet, on_internet), (topo.gateway, on_gateway)):
        worker = NsThread(ns)
        try:
            worker.call(job)
        finally:
            worker.close()
    topo.public.append(ip)


def remove(topo: Topology) -> None:
    """Remove every namespace of the run (their veths and tables go with them); a second call is a no-op."""
    for ns in topo.namespaces:
        _remove(ns)


def _remove(name: str) -> None:
    if os.path.exists(f"{NETNS_DIR}/{name}"):
        with contextlib.suppress(OSError, NetlinkError):  # already gone
            netns.remove(name)


def sweep() -> list[str]:
    """Remove the namespaces of runs whose process is gone; returns their names."""
    removed = abandoned(netns.listnetns(), PREFIX)
    for name in removed:
        _remove(name)
    return removed
