"""uiautomator2 on a Handset through the real adb server: the u2 API, the fast transport, typed
errors, and recovery when the on-device server dies."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import uiautomator2 as u2

from devicelab.errors import UiError, UiServerError
from devicelab.handset import Handset
from devicelab.handset.transport import LabAdbClient
from devicelab.handset.ui import HandsetUi, UiTimeouts
from devicelab.virtual.lab import VirtualLab
from devicelab.virtual.shell.io import CommandContext
from devicelab.virtual.shell.registry import main_class, register_main_class
from devicelab.virtual.ui.app_process import MAIN_CLASS
from devicelab.virtual.ui.hooks import crash_server

from .helpers import free_port, private_lab

SUW = "com.google.android.setupwizard"


@pytest.fixture(scope="module")
def lab_and_handset() -> Iterator[tuple[VirtualLab, Handset]]:
    with private_lab(build="nokia7plus-00WW_3_22C", sim=None, seed="flows-ui") as pair:
        yield pair


@pytest.fixture
def fresh(lab_and_handset: tuple[VirtualLab, Handset]) -> tuple[VirtualLab, Handset]:
    """The handset back at the first screen of the setup wizard."""
    lab, handset = lab_and_handset
    handset.factory_reset()
    return lab, handset


def test_u2_api_through_the_real_adb_server(fresh: tuple[VirtualLab, Handset]) -> None:
    _lab, handset = fresh
    d = handset.ui().device()
    assert "welcome_title" in d.dump_hierarchy()
    d(resourceId=f"{SUW}:id/start").click()  # selector: waitForExists, objInfo, click
    assert d(text="Insert SIM card").wait(timeout=5)
    d.xpath('//*[@text="Skip"]').click()  # xpath over the dumped hierarchy
    assert d(text="Connect to Wi-Fi").wait(timeout=5)
    d.press("back")
    assert d(text="Insert SIM card").wait(timeout=5)
    image = d.screenshot()
    assert image.size == (1080, 2160)
    d.swipe(540, 1500, 540, 500, 0.05)  # nothing to scroll here: the page stays
    assert d(text="Insert SIM card").exists


def test_the_harness_sockets_have_nodelay_and_no_close_sleep(lab_and_handset: tuple[VirtualLab, Handset]) -> None:
    _lab, handset = lab_and_handset
    server = handset.adb.client.server
    client = LabAdbClient(server.host, server.port)
    with client.make_connection() as conn:
        assert conn.conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    start = time.perf_counter()
    for _ in range(20):
        client.make_connection().close()
    assert (time.perf_counter() - start) / 20 < 0.01  # stock adbutils sleeps 10 ms in every close
    version = client.server_version()
    assert client.server_version() == version == 41


def test_a_dead_adb_server_is_a_clear_error_and_none_is_started() -> None:
    port = free_port()
    client = LabAdbClient("127.0.0.1", port, connect_timeout=1)
    start = time.monotonic()
    with pytest.raises(Exception, match=f"127.0.0.1:{port}") as info:
        client.device("emulator-5554").shell("echo hi")
    assert type(info.value).__name__ == "AdbConnectionError"
    assert time.monotonic() - start < 3
    with pytest.raises(OSError):  # nobody listens there now either: no server was started
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_a_failed_step_names_the_handset_and_the_step(fresh: tuple[VirtualLab, Handset]) -> None:
    _lab, handset = fresh
    ui = handset.ui()
    with pytest.raises(UiError) as info:
        ui.call("press Teleport", lambda d: d(text="Teleport").click(timeout=0.1))
    assert info.value.serial == handset.serial
    assert info.value.step == "press Teleport"
    assert "UiObjectNotFoundError" in str(info.value)


def test_a_crashed_server_is_restarted_and_the_call_retried(fresh: tuple[VirtualLab, Handset]) -> None:
    lab, handset = fresh
    ui = handset.ui()
    ui.dump("the server runs")
    assert lab.call(lambda: crash_server(lab.handsets[0]))
    start = time.monotonic()
    assert "welcome_title" in ui.dump("dump after a crash")
    assert time.monotonic() - start < 10
    assert lab.call(lambda: crash_server(lab.handsets[0]))  # a new server runs again
    assert ui.recoveries >= 1  # counted, so a run record can say the step went on after a restart


def test_a_server_that_cannot_start_is_reported_in_bounded_time(fresh: tuple[VirtualLab, Handset]) -> None:
    lab, handset = fresh
    original = main_class(MAIN_CLASS)
    assert original is not None

    async def dies_at_once(ctx: CommandContext) -> int:
        await ctx.err("java.lang.RuntimeException: broken on purpose\n")
        return 1

    ui = HandsetUi(handset, UiTimeouts(launch=2.0, recoveries=1))
    ui.dump("the server runs")
    register_main_class(MAIN_CLASS, dies_at_once)  # this process's virtual lab only
    try:
        assert lab.call(lambda: crash_server(lab.handsets[0]))
        start = time.monotonic()
        with pytest.raises(UiServerError) as info:
            ui.dump("dump with a broken server")
        assert time.monotonic() - start < 20
    finally:
        register_main_class(MAIN_CLASS, original.run, jar_required=original.jar_required)
    assert info.value.serial == handset.serial
    assert info.value.step == "dump with a broken server"
    assert "after 2 attempts" in str(info.value)
    assert "adb state: device" in str(info.value)
    assert ui.recoveries >= 1  # uiautomator2's own relaunch inside the call, and ours
    ui.close()


def test_stock_transport_still_works_for_comparison(lab_and_handset: tuple[VirtualLab, Handset]) -> None:
    _lab, handset = lab_and_handset
    stock = HandsetUi(handset, fast=False)
    device = stock.device()
    assert isinstance(device, u2.Device)
    assert "<hierarchy" in stock.dump()
