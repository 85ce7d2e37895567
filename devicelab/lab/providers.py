"""Handset providers: sources of handsets that a lab starts when a run needs them.

An inventory names a provider by kind; the harness looks the kind up here and never knows what
stands behind it. The embedded virtual lab is the provider `virtual`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from devicelab.errors import ConfigError
from devicelab.model.inventory import AdbServerSpec, HandsetEntry, UpstreamRouting

if TYPE_CHECKING:
    from devicelab.handset.network import NetworkPlug
    from devicelab.handset.sim import SimSwitcher

#: kind -> "module:Class"
PROVIDERS = {"virtual": "devicelab.virtual.provider:VirtualProvider"}


@dataclass(frozen=True)
class ProvidedLab:
    #: by USB host name: the adb server each host runs (HandsetEntry.adb.server names one)
    adb_servers: dict[str, AdbServerSpec]
    handsets: tuple[HandsetEntry, ...]
    #: capability: the provider puts SIMs in its handsets' slots (None: an operator does)
    sim_switcher: SimSwitcher | None = None
    #: capability: the provider's own servers, for the capture proxy to route to (None: real DNS)
    upstream: UpstreamRouting | None = None
    #: capability: the provider plugs its handsets into the gateway's links (None: they are on it already)
    network_plug: NetworkPlug | None = None


class Provider(Protocol):
    def start(self, timeout: float) -> ProvidedLab: ...

    def stop(self) -> None: ...


def make_provider(kind: str, lab_name: str, options: dict[str, Any], source: str) -> Provider:
    target = PROVIDERS.get(kind)
    if target is None:
        raise ConfigError(source, "provider.kind", f"unknown provider {kind!r}; known: {', '.join(PROVIDERS)}")
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    provider: Provider = cls(lab_name, options, source)
    return provider
