"""The virtual internet inside a running VirtualLab, seen through the real adb."""

from __future__ import annotations

from devicelab.virtual.lab import VirtualLab
from devicelab.virtual.net import browser
from tests.virtual.adb_helpers import run_adb, wait_until


def test_lab_serves_its_internet_and_ships_its_root_in_the_system_store(lab: VirtualLab, adb_port: int,
                                                                        serial: str) -> None:
    internet = lab.internet
    assert internet is not None
    hosts = internet.upstream_hosts()
    assert {"zzhc.vnet.cn", "android.clients.google.com", "example.com"} <= set(hosts)
    assert all(address[0] == "127.0.0.1" for address in hosts.values())
    assert internet.root_ca_pem_path().read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    listing = run_adb(adb_port, "-s", serial, "shell", "ls /system/etc/security/cacerts")
    assert listing.returncode == 0
    assert internet.root_ca_store_name() in listing.stdout.split()

    handset = lab.handsets[0]

    def join_wifi_and_browse() -> bool:
        handset.radio.wifi_connected = True  # after a wipe a handset is offline until it joins Wi-Fi
        return browser.open_url(handset, "https://example.com/canary")

    assert lab.call(join_wifi_and_browse)
    wait_until(lambda: bool(internet.requests_to("example.com")), 5, "the canary page load")
    port = internet.requests_to("example.com")[0].peer[1]
    table = run_adb(adb_port, "-s", serial, "shell", "cat /proc/net/tcp6")
    assert table.returncode == 0
    row = next(line.split() for line in table.stdout.splitlines()[1:] if line.split()[1].endswith(f":{port:04X}"))
    assert row[7] == "10080"  # uid of com.android.chrome: the flow can be attributed


def test_chrome_shows_its_first_run_before_any_page_unless_the_canary_flags_skip_it(lab: VirtualLab, adb_port: int,
                                                                                    serial: str) -> None:
    from devicelab.capture.canary import CHROME_PREPARE, CHROME_RESTORE

    internet = lab.internet
    assert internet is not None
    handset = lab.handsets[0]

    def online() -> None:
        handset.radio.wifi_connected = True

    lab.call(online)
    view = "am start -a android.intent.action.VIEW -d https://example.com/first"
    assert run_adb(adb_port, "-s", serial, "shell", view).returncode == 0
    focus = run_adb(adb_port, "-s", serial, "shell", "dumpsys window windows | grep mCurrentFocus").stdout
    assert "FirstRunActivity" in focus  # a fresh user build: "Welcome to Chrome", the page waits
    assert not internet.requests_to("example.com")

    assert run_adb(adb_port, "-s", serial, "shell", CHROME_PREPARE).returncode == 0
    assert run_adb(adb_port, "-s", serial, "shell", view).returncode == 0
    wait_until(lambda: bool(internet.requests_to("example.com")), 5, "the page, with no first run")
    run_adb(adb_port, "-s", serial, "shell", CHROME_RESTORE)
    assert "debug_app" not in lab.call(lambda: dict(handset.system.settings("global")))  # type: ignore[union-attr]
