"""The u2 server over raw HTTP: /ping, JSON-RPC calls and their error shapes, HTTP edge cases,
and its life as `app_process` (the port it registers, and what stops it)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devicelab.virtual.handset import VirtualHandset
from devicelab.virtual.ui.app_process import running
from devicelab.virtual.ui.hooks import crash_server

from .ui_helpers import LoopThread, Uia2Process, boot


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def handset(loop: LoopThread) -> VirtualHandset:
    return loop.call(boot())


@pytest.fixture
def server(loop: LoopThread, handset: VirtualHandset) -> Iterator[Uia2Process]:
    proc = Uia2Process(loop, handset).start()
    yield proc
    if proc.task is not None and not proc.task.done():
        proc.stop()


def rpc(url: str, method: str, params: Any = None, *, session: requests.Session | None = None,
        request_id: Any = 1) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {} if params is None else params}
    reply = (session or requests).post(url + "/jsonrpc/0", json=body, timeout=10)
    assert reply.status_code == 200
    result: dict[str, Any] = reply.json()
    return result


def raw(url: str, data: bytes, *, read_all: bool = True) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while read_all:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


# -- HTTP ---------------------------------------------------------------------------------------
def test_ping_answers_exactly_pong(server: Uia2Process) -> None:
    reply = requests.get(server.url + "/ping", timeout=5)
    assert (reply.status_code, reply.content) == (200, b"pong")
    assert requests.head(server.url + "/ping", timeout=5).content == b""


def test_keep_alive_serves_many_requests_on_one_connection(server: Uia2Process) -> None:
    with requests.Session() as session:
        for _ in range(5):
            assert rpc(server.url, "ping", session=session)["result"] == "pong"
    assert running(server.handset) is not None
    assert running(server.handset).server.requests == 5  # type: ignore[union-attr]


def test_http_1_0_and_connection_close_end_the_connection(server: Uia2Process) -> None:
    reply = raw(server.url, b"GET /ping HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close" in reply
    assert reply.endswith(b"\r\n\r\npong")
    reply = raw(server.url, b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.endswith(b"pong")


def test_a_chunked_body_is_read(server: Uia2Process) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "ping", "params": []}).encode()
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    reply = raw(server.url, b"POST /jsonrpc/0 HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + chunks)
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"jsonrpc": "2.0", "id": 7, "result": "pong"}


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n", b"404"),
        (b"GET /jsonrpc/0 HTTP/1.1\r\nConnection: close\r\n\r\n", b"405"),
        (b"POST /ping HTTP/1.1\r\nConnection: close\r\n\r\n", b"405"),
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET /ping HTTP/2.0\r\n\r\n", b"505"),
        (b"POST /jsonrpc/0 HTTP/1.1\r\nContent-Length: many\r\n\r\n", b"400"),
        (b"POST /jsonrpc/0 HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", b"413"),
        (b"GET /ping HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
    ],
)
def test_bad_http_gets_a_status_not_a_crash(server: Uia2Process, request_bytes: bytes, status: bytes) -> None:
    reply = raw(server.url, request_bytes)
    assert reply.split(b" ")[1] == status
    assert requests.get(server.url + "/ping", timeout=5).content == b"pong"  # still serving


def test_a_huge_header_is_refused(server: Uia2Process) -> None:
    reply = raw(server.url, b"GET /ping HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n")
    assert reply.split(b" ")[1] == b"431"


# -- JSON-RPC -------------------------------------------------------------------------------------
def test_device_info(server: Uia2Process) -> None:
    info = rpc(server.url, "deviceInfo")["result"]
    assert info == {
        "currentPackageName": "com.google.android.setupwizard", "displayHeight": 2034, "displayRotation": 0,
        "displaySizeDpX": 411, "displaySizeDpY": 823, "displayWidth": 1080, "productName": "Onyx_00WW",
        "screenOn": True, "sdkInt": 28, "naturalOrientation": True,
    }


def test_results_echo_the_request_id(server: Uia2Process) -> None:
    assert rpc(server.url, "ping", request_id="abc") == {"jsonrpc": "2.0", "id": "abc", "result": "pong"}
    assert rpc(server.url, "freezeRotation", [True]) == {"jsonrpc": "2.0", "id": 1, "result": None}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"{not json", -32700, "Parse error"),
        (b"[1, 2]", -32600, "Invalid Request"),
        (b'{"jsonrpc": "2.0", "id": 1}', -32600, "no method"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "teleport", "params": []}', -32601, "method not found: teleport"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "click", "params": [true]}', -32602, "expected a selector"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "click", "params": [1, "b"]}', -32602, "parameter 1 (y)"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "pressKey", "params": {"key": "home"}}', -32602, "named"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "pressKey", "params": 5}', -32602, "params must be an array"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "objInfo", "params": [{"mask": 1, "text": 3}]}', -32602,
         "'text' must be str"),
    ],
)
def test_error_shapes(server: Uia2Process, body: bytes, code: int, message: str) -> None:
    reply = requests.post(server.url + "/jsonrpc/0", data=body, timeout=5)
    assert reply.status_code == 200  # errors travel in the body, as jsonrpc4j sends them
    error = reply.json()["error"]
    assert error["code"] == code
    assert message in error["message"]


def test_object_not_found_is_what_u2_recognises(server: Uia2Process) -> None:
    selector = {"mask": 1, "text": "Teleport", "childOrSibling": [], "childOrSiblingSelector": []}
    error = rpc(server.url, "objInfo", [selector])["error"]
    assert error["code"] == -32002
    assert "uiautomator.UiObjectNotFoundException" in error["message"]
    assert "UiSelector[TEXT=Teleport]" in error["message"]
    assert rpc(server.url, "exist", [selector])["result"] is False
    assert rpc(server.url, "count", [selector])["result"] == 0


def test_click_by_coordinates_moves_the_wizard(server: Uia2Process) -> None:
    start = {"mask": 0x200000, "resourceId": "com.google.android.setupwizard:id/start"}
    bounds = rpc(server.url, "objInfo", [start])["result"]["visibleBounds"]
    x, y = (bounds["left"] + bounds["right"]) / 2, (bounds["top"] + bounds["bottom"]) / 2
    assert rpc(server.url, "click", [x, y])["result"] is True
    assert rpc(server.url, "deviceInfo")["result"]["currentPackageName"] == "com.google.android.setupwizard"
    assert rpc(server.url, "exist", [{"mask": 1, "text": "Insert SIM card"}])["result"] is True
    assert rpc(server.url, "pressKey", ["back"])["result"] is True
    assert rpc(server.url, "waitForExists", [start, 1000])["result"] is True


def test_dump_hierarchy_and_screenshot(server: Uia2Process) -> None:
    xml = rpc(server.url, "dumpWindowHierarchy", [False, 50])["result"]
    assert 'resource-id="com.google.android.setupwizard:id/welcome_title"' in xml
    assert 'package="com.android.systemui"' in xml  # every window, not just the app
    active = rpc(server.url, "dumpWindowHierarchy", [False, 50, True])["result"]
    assert "com.android.systemui" not in active
    shot = rpc(server.url, "takeScreenshot", [1, 80])["result"]
    assert shot.startswith("/9j/")  # base64 of a JPEG's FF D8 FF
    assert rpc(server.url, "takeScreenshot", ["/sdcard/x.png", 1.0, 80])["error"]["code"] == -32003


def test_waits_are_bounded_and_see_timed_screens(loop: LoopThread, server: Uia2Process) -> None:
    handset = server.handset
    loop.call(lambda: setattr(handset.clock, "scale", 20.0))  # "Just a sec…" lasts 0.1 s
    from devicelab.virtual.ui.device import ui_state

    loop.call(lambda: ui_state(handset).act("goto:just_a_sec"))
    copy = {"mask": 1, "text": "Date & time"}
    started = time.monotonic()
    assert rpc(server.url, "waitForExists", [copy, 5000])["result"] is True
    assert time.monotonic() - started < 3
    started = time.monotonic()
    assert rpc(server.url, "waitUntilGone", [copy, 300])["result"] is False
    assert 0.25 < time.monotonic() - started < 3


def test_toast_and_clipboard(server: Uia2Process) -> None:
    assert rpc(server.url, "getLastToast")["result"] is None
    assert rpc(server.url, "makeToast", ["hello", 1000])["result"] is True
    assert rpc(server.url, "getLastToast")["result"] == "hello"
    rpc(server.url, "setClipboard", [None, "copied"])
    assert rpc(server.url, "getClipboard")["result"] == "copied"


# -- life as app_process ------------------------------------------------------------------------
def test_running_registers_the_device_port_and_socket(server: Uia2Process) -> None:
    handset = server.handset
    assert 9008 in handset.local_ports
    assert handset.system is not None
    listening = [s for s in handset.system.sockets if s.local[1] == 9008]
    assert len(listening) == 1
    assert (listening[0].state, listening[0].uid) == ("LISTEN", 2000)


def test_closing_the_stream_stops_the_server(server: Uia2Process) -> None:
    url = server.url
    assert server.stop() == 0
    handset = server.handset
    assert 9008 not in handset.local_ports
    assert handset.system is not None
    assert not [s for s in handset.system.sockets if s.local[1] == 9008]
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/ping", timeout=2)


def test_a_second_server_on_the_same_port_fails_to_bind(loop: LoopThread, server: Uia2Process) -> None:
    second = Uia2Process(loop, server.handset).start()
    assert second.wait() == 1
    assert "BindException" in second.stderr
    assert requests.get(server.url + "/ping", timeout=5).content == b"pong"


@pytest.mark.parametrize(
    ("env", "argv_port", "code", "message"),
    [
        ({}, 9008, 1, "ClassNotFoundException"),
        ({"CLASSPATH": "/data/local/tmp/missing.jar"}, 9008, 1, "missing.jar"),
    ],
)
def test_no_jar_no_server(loop: LoopThread, handset: VirtualHandset, env: dict[str, str], argv_port: int,
                          code: int, message: str) -> None:
    proc = Uia2Process(loop, handset, argv_port).start(env=env)
    assert proc.wait() == code
    assert message in proc.stderr
    assert argv_port not in handset.local_ports


def test_a_reboot_stops_the_server(loop: LoopThread, server: Uia2Process) -> None:
    handset = server.handset
    loop.call(lambda: handset.reboot())
    assert server.wait() == 0
    assert 9008 not in handset.local_ports


def test_crash_hook_resets_connections_and_a_restart_works(loop: LoopThread, server: Uia2Process) -> None:
    handset = server.handset
    assert loop.call(lambda: crash_server(handset))
    assert server.wait() == 1
    assert "crashed" in server.stderr
    assert 9008 not in handset.local_ports
    assert not loop.call(lambda: crash_server(handset))  # nothing left to crash
    again = Uia2Process(loop, handset).start()
    assert requests.get(again.url + "/ping", timeout=5).content == b"pong"
    assert again.stop() == 0


SUW = "com.google.android.setupwizard"
START = {"mask": 0x200000, "resourceId": f"{SUW}:id/start"}


def test_long_presses_do_not_click(server: Uia2Process) -> None:
    assert rpc(server.url, "longClick", [START])["result"] is True
    assert rpc(server.url, "click", [197, 688, 500])["result"] is True  # u2's long_click(x, y)
    assert rpc(server.url, "exist", [START])["result"] is True  # still on the welcome screen
    assert rpc(server.url, "clickAndWaitForNewWindow", [START, 1000])["result"] is True
    assert rpc(server.url, "exist", [{"mask": 1, "text": "Insert SIM card"}])["result"] is True


def test_raw_touch_events_tap_and_swipe(server: Uia2Process) -> None:
    info = rpc(server.url, "objInfo", [START])["result"]["bounds"]
    x, y = (info["left"] + info["right"]) / 2, (info["top"] + info["bottom"]) / 2
    rpc(server.url, "injectInputEvent", [0, x, y, 0])
    rpc(server.url, "injectInputEvent", [1, x, y, 0])
    assert rpc(server.url, "exist", [{"mask": 1, "text": "Insert SIM card"}])["result"] is True
    assert rpc(server.url, "pressKeyCode", [4])["result"] is True  # KEYCODE_BACK
    assert rpc(server.url, "exist", [START])["result"] is True
    assert rpc(server.url, "swipePoints", [[540, 1500, 540, 1000, 540, 500], 20])["result"] is True
    assert rpc(server.url, "swipePoints", [[540, 1500], 20])["error"]["code"] == -32602


def test_scrolling_by_selector(loop: LoopThread, server: Uia2Process) -> None:
    from devicelab.virtual.ui.device import ui_state

    loop.call(lambda: ui_state(server.handset).act("goto:google_services"))
    scroll = {"mask": 0x4000, "scrollable": True}
    usage = {"mask": 1, "text": "Send usage and diagnostic data"}
    assert rpc(server.url, "exist", [usage])["result"] is False
    assert rpc(server.url, "scrollTo", [scroll, usage, True])["result"] is True
    assert rpc(server.url, "exist", [usage])["result"] is True
    assert rpc(server.url, "scrollToEnd", [scroll, True, 10, 20])["result"] is True
    assert rpc(server.url, "scrollForward", [scroll, True, 20])["result"] is False  # at the end
    assert rpc(server.url, "exist", [{"mask": 1, "text": "Accept"}])["result"] is True
    assert rpc(server.url, "scrollToBeginning", [scroll, True, 10, 20])["result"] is True
    assert rpc(server.url, "exist", [{"mask": 1, "text": "More"}])["result"] is True


def test_named_ui_objects(server: Uia2Process) -> None:
    picker = {"mask": 0x200000, "resourceId": f"{SUW}:id/language_picker"}
    name = rpc(server.url, "getUiObject", [picker])["result"]
    assert rpc(server.url, "getUiObjects")["result"] == [name]
    child = rpc(server.url, "getChild", [name, {"mask": 0x10, "className": "android.widget.TextView"}])["result"]
    assert rpc(server.url, "getText", [child])["result"] == "English (United States)"
    sibling = rpc(server.url, "getFromParent", [name, {"mask": 1, "text": "Start"}])["result"]
    assert rpc(server.url, "objInfo", [sibling])["result"]["resourceName"] == f"{SUW}:id/start"
    rpc(server.url, "removeUiObject", [name])
    assert "no UiObject named" in rpc(server.url, "objInfo", [name])["error"]["message"]
    missing = rpc(server.url, "getUiObject", [{"mask": 1, "text": "Teleport"}])["error"]
    assert missing["code"] == -32002


def test_window_updates_are_seen(loop: LoopThread, server: Uia2Process) -> None:
    from devicelab.virtual.ui.device import ui_state

    assert rpc(server.url, "waitForWindowUpdate", [None, 100])["result"] is False  # nothing moves by itself
    ui = loop.call(lambda: ui_state(server.handset))
    loop.call(lambda: loop.loop.call_later(0.1, ui.act, "next"))  # Start, pressed while the server waits
    assert rpc(server.url, "waitForWindowUpdate", ["", 5000])["result"] is True
    assert rpc(server.url, "getText", [{"mask": 1, "text": "Insert SIM card"}])["result"] == "Insert SIM card"
