"""The real uiautomator2 client (3.7) against the virtual handset's u2 server.

u2 reaches its server through adbutils' `tcp:9008` streams; here a stand-in adb device hands
it a socket to the handset's device-local port instead, so everything above the adb transport
is u2's own code: its HTTP client, JSON-RPC, selectors, xpath over the dumped hierarchy and
error mapping. `test_u2_connect_via_adb` runs the same through the real adb server and the
virtual adbd.
"""

from __future__ import annotations

from collections.abc import Iterator

import adbutils
import pytest
import uiautomator2 as u2
from uiautomator2.exceptions import UiObjectNotFoundError

from devicelab.virtual.handset import VirtualHandset
from devicelab.virtual.shell.registry import main_class
from devicelab.virtual.ui.app_process import MAIN_CLASS

from .ui_helpers import FakeAdbDevice, LoopThread, Uia2Process, boot

SUW = "com.google.android.setupwizard"
GMS = "com.google.android.gms"


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


def connect(loop: LoopThread, handset: VirtualHandset) -> tuple[u2.Device, Uia2Process]:
    server = Uia2Process(loop, handset).start()
    device = u2.Device(FakeAdbDevice(handset))
    device.settings["wait_timeout"] = 5.0
    return device, server


@pytest.fixture
def offline(loop: LoopThread) -> Iterator[tuple[u2.Device, VirtualHandset]]:
    handset = loop.call(boot())
    loop.call(lambda: setattr(handset.clock, "scale", 20.0))  # "Just a sec…" passes in 0.1 s
    device, server = connect(loop, handset)
    yield device, handset
    server.stop()


@pytest.fixture
def online(loop: LoopThread) -> Iterator[tuple[u2.Device, VirtualHandset]]:
    handset = loop.call(boot(sim="telenor-no", name="ui-online"))
    device, server = connect(loop, handset)
    yield device, handset
    server.stop()


def test_u2_drives_the_whole_google_wizard(offline: tuple[u2.Device, VirtualHandset]) -> None:
    d, handset = offline
    assert d.info["currentPackageName"] == SUW
    assert d(resourceId=f"{SUW}:id/welcome_title").get_text() == "Welcome to your Nokia 7 plus"
    d(resourceId=f"{SUW}:id/start").click()
    d(text="Skip").click()
    d.xpath('//*[@text="Set up offline"]').click()
    d(resourceId="android:id/button1").click()
    assert d(text="Date & time").wait(timeout=5)  # past "Just a sec…", when it shows
    d(text="Next").click()
    assert d(resourceId=f"{GMS}:id/location_switch").info["checked"] is True
    d(resourceId=f"{GMS}:id/location_switch").click()
    assert d(resourceId=f"{GMS}:id/location_switch").info["checked"] is False
    assert not d(text="Send usage and diagnostic data").exists  # below the fold
    d(text="More").click()
    d(text="More").click()
    assert d(resourceId=f"{GMS}:id/usage_reporting_switch", checked=True).exists
    d(text="Accept").click()
    d(text="Not now").click()
    d(resourceId="android:id/button1").click()
    assert d(text="Help improve Nokia phones", className="android.widget.TextView").exists
    d(text="Send analytics data").click()
    d(text="Accept").click()
    d(text="No thanks").click()
    assert d.info["currentPackageName"] == "com.google.android.apps.nexuslauncher"
    assert d(description="Chrome").exists
    settings = handset.system.settings if handset.system is not None else None
    assert settings is not None
    assert settings("secure")["user_setup_complete"] == "1"
    assert settings("secure")["location_mode"] == "0"
    assert settings("global")["evenwell_dataagent_enabled"] == "0"
    assert settings("global")["multi_cb"] == "1"


def test_xpath_works_on_the_dumped_hierarchy(offline: tuple[u2.Device, VirtualHandset]) -> None:
    d, _ = offline
    xml = d.dump_hierarchy(pretty=True)
    assert "welcome_title" in xml
    assert d.xpath(f'//*[@resource-id="{SUW}:id/language_picker"]/android.widget.TextView').get_text() == \
        "English (United States)"
    start = d.xpath('//android.widget.Button[@text="Start"]').get()
    assert start.attrib["clickable"] == "true"
    assert start.bounds == (105, 636, 290, 741)
    assert d.xpath('//*[@content-desc="Back"]').exists  # the navigation bar is in the dump


def test_selectors_beyond_text(offline: tuple[u2.Device, VirtualHandset]) -> None:
    d, _ = offline
    assert d(className="android.widget.Button").count == 3
    assert d(className="android.widget.Button")[1].get_text() == "Vision settings"
    assert d(textMatches="Emergency.*").exists
    assert d(resourceIdMatches=r".*:id/(start|nothing)").info["text"] == "Start"
    picker = d(resourceId=f"{SUW}:id/language_picker")
    assert picker.child(className="android.widget.TextView").get_text() == "English (United States)"
    named = d(resourceId=f"{SUW}:id/suw_scroll_view").child_by_text("Start", className="android.widget.Button")
    assert named.info["resourceName"] == f"{SUW}:id/start"


def test_not_found_maps_to_u2s_error(offline: tuple[u2.Device, VirtualHandset]) -> None:
    d, _ = offline
    with pytest.raises(UiObjectNotFoundError):
        d(text="Teleport").click(timeout=0.2)
    with pytest.raises(UiObjectNotFoundError):
        d(text="Teleport").info  # noqa: B018 - the property call is the test
    assert d(text="Teleport").wait_gone(timeout=0.1)


def test_text_fields_and_keys(online: tuple[u2.Device, VirtualHandset]) -> None:
    d, _ = online
    d(resourceId=f"{SUW}:id/start").click()
    assert d(text="Connect to Wi-Fi").exists
    d(text="devicelab").click()  # joins the lab's Wi-Fi
    if d(text="Checking for updates…").exists:
        assert d(text="Copy apps & data").wait(timeout=5)
    d(text="Don't copy").click()
    field = d(resourceId=f"{GMS}:id/identifierId")
    field.set_text("qa@example.com")
    assert field.get_text() == "qa@example.com"
    field.clear_text()
    assert field.get_text() == ""
    d.press("back")
    assert d(text="Copy apps & data").exists
    d.press("home")  # the wizard ignores home
    assert d(text="Copy apps & data").exists


def test_screenshot_and_window_size(online: tuple[u2.Device, VirtualHandset]) -> None:
    d, _ = online
    image = d.screenshot()
    assert image.size == (1080, 2160)
    assert d.window_size() == (1080, 2160)
    d.click(0.5, 0.5)  # relative coordinates: u2 asks the window size, then clicks (540, 1080)


@pytest.mark.skipif(main_class(MAIN_CLASS) is None,
                    reason="the shell does not run com.wetest.uia2.Main yet: it needs "
                           "register_main_class(MAIN_CLASS, devicelab.virtual.ui.app_process.uia2_main)")
def test_u2_connect_via_adb(adb_port: int, serial: str) -> None:
    """u2.connect over the real adb server: md5 check, jar push, app_process, tcp:9008, /ping."""
    device = adbutils.AdbClient(host="127.0.0.1", port=adb_port).device(serial)
    d = u2.connect(device)
    try:
        assert d.info["currentPackageName"] == SUW
        d(resourceId=f"{SUW}:id/start").click()
        assert d(text="Insert SIM card").wait(timeout=5)
        assert d.xpath('//*[@text="Skip"]').exists
    finally:
        d.stop_uiautomator()
