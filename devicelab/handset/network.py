"""The handset's network behind the lab's gateway: a `NetworkPlug` puts it on a gateway link.

Labs whose provider can do it hand one to each handset (`Handset.network_plug`: the virtual lab's
control channel plugs its handset into the link's namespace). On a physical lab the handset joins
the gateway's Wi-Fi (hostapd), USB tether or VLAN port once, by hand: there is nothing to plug,
and `OperatorNetworkPlug` only checks that the inventory said where it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from devicelab.model.inventory import GatewayLink


class NetworkPlug(Protocol):
    def plug(self, serial: str, link: GatewayLink | None, *, timeout: float) -> None:
        """Put the handset (by its serial number) on `link` (None: take it off again)."""


class OperatorNetworkPlug:
    """A physical handset is already on the gateway's network (the lab's Wi-Fi/tether/VLAN)."""

    def plug(self, serial: str, link: GatewayLink | None, *, timeout: float) -> None:
        return None


def plug_for(handset: object) -> NetworkPlug:
    """The handset's lab's plug (`Handset.network_plug`), else the operator's (nothing to do)."""
    plug: NetworkPlug | None = getattr(handset, "network_plug", None)
    return plug or OperatorNetworkPlug()
