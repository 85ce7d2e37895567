"""labgrid exporter configurations for a lab's USB hosts.

One exporter runs on each USB host and publishes, per handset plugged into it, a resource group
named after the handset id: the host's adb server (a `NetworkService` named `adb`) and the
handset's fastboot (`AndroidNetFastboot` for fastboot over TCP, `AndroidUSBFastboot` for USB).
The places the allocator creates match `<host>/<handset id>/*`, so locking a place locks them.

    devicelab labgrid-exporter-config --lab fixtures/lab/example-rack.yaml --host usbhost2 > usbhost2.yaml
    labgrid-exporter -c COORDINATOR -n usbhost2 usbhost2.yaml   # on usbhost2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from devicelab.model.inventory import AdbServerSpec, HandsetEntry


def resources(entry: HandsetEntry, server: AdbServerSpec) -> dict[str, Any]:
    """The resource group of one handset."""
    group: dict[str, Any] = {
        "adb": {"cls": "NetworkService", "address": server.host, "port": server.port, "username": "adb"},
    }
    kind, _, rest = entry.fastboot.partition(":")
    if kind in ("tcp", "udp") and rest:
        address, _, port = rest.rpartition(":")
        group["fastboot"] = {"cls": "AndroidNetFastboot", "address": address, "port": int(port), "protocol": kind}
    else:  # a USB serial: the exporter finds the device by it through udev
        group["fastboot"] = {"cls": "AndroidUSBFastboot", "match": {"ID_SERIAL_SHORT": entry.fastboot}}
    return group


def exporter_configs(entries: Iterable[HandsetEntry], servers: Mapping[str, AdbServerSpec]) -> dict[str, str]:
    """By USB host: the YAML for that host's `labgrid-exporter`."""
    hosts: dict[str, dict[str, Any]] = {}
    for entry in entries:
        hosts.setdefault(entry.usb_host, {})[entry.id] = resources(entry, servers[entry.adb.server])
    return {host: yaml.safe_dump(groups, sort_keys=True) for host, groups in hosts.items()}
