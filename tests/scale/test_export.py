"""`devicelab labgrid-exporter-config`: each USB host's exporter configuration from an inventory."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from devicelab.cli.labgrid import exporter_config_command
from devicelab.lab.labgrid_allocator import acquired_resources
from devicelab.model.inventory import LAB_DIR

RACK = str(LAB_DIR / "example-rack.yaml")


def test_one_host_gets_its_handsets_adb_server_and_fastboot() -> None:
    result = CliRunner().invoke(exporter_config_command, ["--lab", RACK, "--host", "usbhost2"])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.output)
    assert config == {"rack2-slot1": {
        "adb": {"cls": "NetworkService", "address": "10.20.0.12", "port": 5037, "username": "adb"},
        "fastboot": {"cls": "AndroidNetFastboot", "address": "10.20.0.12", "port": 5554, "protocol": "tcp"}}}


def test_a_usb_fastboot_handset_is_matched_by_its_serial() -> None:
    result = CliRunner().invoke(exporter_config_command, ["--lab", RACK, "--host", "usbhost1"])
    assert yaml.safe_load(result.output)["rack1-slot1"]["fastboot"] == {
        "cls": "AndroidUSBFastboot", "match": {"ID_SERIAL_SHORT": "B2NGAA8831702707"}}


def test_an_unknown_host_names_the_hosts_there_are() -> None:
    result = CliRunner().invoke(exporter_config_command, ["--lab", RACK, "--host", "usbhost9"])
    assert result.exit_code == 3
    assert "hosts: usbhost1, usbhost2" in result.output


def test_a_provider_lab_says_why_it_cannot_be_exported_offline() -> None:
    result = CliRunner().invoke(exporter_config_command, ["--lab", "virtual"])
    assert result.exit_code == 3
    assert "known once it runs" in result.output


SHOWN = """Place 'virtual-1':
  tags: host=host-1, model=B2N
  acquired resources:
    host-1/virtual-1/NetworkService/adb
Acquired resource 'adb' (host-1/virtual-1/NetworkService/adb):
  {'acquired': 'virtual-1',
   'avail': True,
   'cls': 'NetworkService',
   'params': {'address': '127.0.0.1',
              'extra': {'proxy': 'localhost', 'proxy_required': False},
              'port': 59231,
              'username': 'adb'}}
Acquired resource 'fastboot' (host-1/virtual-1/RemoteAndroidNetFastboot/fastboot):
  {'acquired': 'virtual-1',
   'cls': 'RemoteAndroidNetFastboot',
   'params': {'address': '127.0.0.1', 'port': 38337, 'protocol': 'tcp'}}
"""


def test_a_locked_place_says_its_usb_host_and_adb_server() -> None:
    found = acquired_resources(SHOWN)
    assert found["adb"] == ("host-1", {"address": "127.0.0.1", "port": 59231, "username": "adb",
                                       "extra": {"proxy": "localhost", "proxy_required": False}})
    assert found["fastboot"][1]["port"] == 38337
    assert acquired_resources("Place 'x':\n  tags: \n") == {}
