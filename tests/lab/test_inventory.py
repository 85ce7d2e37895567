from __future__ import annotations

from pathlib import Path

import pytest

from devicelab.errors import ConfigError
from devicelab.model.inventory import load_inventory


def test_embedded_virtual_lab_is_the_default() -> None:
    inv = load_inventory()
    assert inv.name == "virtual"
    assert inv.provider is not None
    assert inv.provider.kind == "virtual"


def test_example_rack_parses_with_remote_adb_servers() -> None:
    inv = load_inventory("example-rack")
    assert {h.adb.server for h in inv.handsets} == {"local", "usbhost2"}
    cn = next(h for h in inv.handsets if h.sku == "00CN")
    assert cn.matches({"model": "B2N", "region": "CN", "sim": "china-telecom"})
    assert not cn.matches({"sku": "00WW"})
    assert cn.matches({"rack": "2"})


GOOD = """
name: rack
handsets:
  - id: a
    serialno: B2N1
    adb: {serial: B2N1}
    fastboot: B2N1
    model: B2N
"""


TWO_ON_ONE_ADDRESS = GOOD + """    gateway: {interface: wlan1, kind: hostapd, address: 10.77.0.23}
  - id: b
    serialno: B2N2
    adb: {serial: B2N2}
    fastboot: B2N2
    model: B2N
    gateway: {interface: wlan1, kind: hostapd, address: 10.77.0.23}
"""


def test_the_example_rack_names_each_handsets_gateway_interface() -> None:
    places = {h.id: h.gateway for h in load_inventory("example-rack").handsets}
    assert places["rack1-slot1"] is not None
    assert (places["rack1-slot1"].interface, places["rack1-slot1"].kind) == ("wlan1", "hostapd")
    assert places["rack2-slot1"] is not None
    assert places["rack2-slot1"].kind == "usb-tether"


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        (GOOD.replace("    serialno: B2N1\n", ""), "handsets.0.serialno", "required field is missing"),
        (GOOD.replace("model: B2N", "model: B2N\n    colour: red"), "handsets.0.colour", "unknown field"),
        (GOOD.replace("{serial: B2N1}", "{server: usb9, serial: B2N1}"), "handsets.0.adb.server",
         "no adb server named 'usb9'"),
        (GOOD + "adb_servers:\n  local: {port: 99999}\n", "adb_servers.local.port", "less than or equal"),
        (GOOD.replace("id: a", "id: 'a b'"), "handsets.0.id", "should match pattern"),
        ("name: rack\n", "(top level)", "needs handsets or a provider"),
        (GOOD.replace("    model: B2N\n", "    model: B2N\n    sim: no-such-sim\n"), "handsets.0.sim", "unknown SIM"),
        (GOOD + "    gateway: {interface: wlan1, kind: hostapd}\n", "handsets.0.gateway.address",
         "required field is missing"),
        (GOOD + "    gateway: {interface: wlan1, kind: wifi, address: 10.77.0.23}\n", "handsets.0.gateway.kind",
         "'hostapd', 'usb-tether' or 'vlan'"),
        (GOOD + "    gateway: {interface: wlan1, kind: vlan, address: 10.77.0.300}\n", "handsets.0.gateway.address",
         "not an IPv4 address"),
        (GOOD + "    gateway: {interface: 'wlan 1', kind: hostapd, address: 10.77.0.23}\n",
         "handsets.0.gateway.interface", "should match pattern"),
        (GOOD + "    gateway: {interface: wlan1, kind: hostapd, address: 10.77.0.23, uplink: wlan1}\n",
         "handsets.0.gateway", "cannot be its own uplink"),

    ],
)
def test_bad_inventory_names_file_field_and_expectation(tmp_path: Path, text: str, field: str,
                                                         problem: str) -> None:
    path = tmp_path / "rack.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert info.value.path == str(path)
    assert info.value.field == field
    assert problem in str(info.value)


def test_missing_inventory_file_is_one_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_inventory(tmp_path / "nope.yaml")
