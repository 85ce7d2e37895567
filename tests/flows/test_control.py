"""The virtual lab's control channel: ops, bad input answered (never fatal), and the SIM switcher
the embedded lab hands to the harness."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.handset import Handset
from devicelab.lab.lab import Lab
from devicelab.virtual.control import ControlClient, ControlError, ControlServer, ControlSimSwitcher
from devicelab.virtual.lab import VirtualLab

from .helpers import private_lab


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VirtualLab, Handset, ControlClient]]:
    with private_lab(sim="telenor-no", seed="flows-control") as (lab, handset):
        path = tmp_path_factory.mktemp("control") / "c.sock"
        server = ControlServer(lab, path)
        server.start()
        try:
            yield lab, handset, ControlClient(path)
        finally:
            server.stop()
        assert not path.exists()


def raw(path: Path, data: bytes) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)  # bounded; a loaded machine can starve the lab's loop for seconds
        sock.connect(str(path))
        sock.sendall(data)
        reply: dict[str, object] = json.loads(sock.makefile("rb").readline())
        return reply


def test_ping_lists_the_handsets(served: tuple[VirtualLab, Handset, ControlClient]) -> None:
    _lab, handset, client = served
    assert client.request("ping") == {"handsets": [handset.serial]}
    assert oct(client.path.stat().st_mode & 0o777) == "0o600"


def test_insert_sim_changes_what_the_handset_reports(served: tuple[VirtualLab, Handset, ControlClient]) -> None:
    _lab, handset, client = served
    try:
        assert client.request("insert_sim", serialno=handset.serial, sim="telia-fi") == {"sim_state": "READY"}
        assert handset.getprop("gsm.sim.operator.numeric").startswith("24491")
        assert client.request("insert_sim", serialno=handset.serial, sim=None) == {"sim_state": "ABSENT"}
        assert handset.getprop("gsm.sim.state").startswith("ABSENT")
    finally:
        client.request("insert_sim", serialno=handset.serial, sim="telenor-no")


@pytest.mark.parametrize(("request_line", "error"), [
    (b"this is not json\n", "not JSON"),
    (b"[1, 2]\n", 'expected an object with a string "op"'),
    (b'{"op": "teleport"}\n', "unknown op 'teleport'; known: attach_network, crash_ui_server, fault, finish_setup, "
                             "inject_screen, insert_sim, ping, upstream, usb_debugging, usb_prompt, usb_state"),
    (b'{"op": "insert_sim", "sim": "telia-fi"}\n', "insert_sim: serialno: required field is missing"),
    (b'{"op": "insert_sim", "serialno": "X", "sim": "telia-fi", "slot": 2}\n', "slot: unknown field"),
    (b'{"op": "insert_sim", "serialno": "NOPE", "sim": "telia-fi"}\n', "no handset 'NOPE' in this lab"),
    (b'{"op": "inject_screen", "serialno": "X"}\n', "give either preset or screen"),
])
def test_bad_requests_get_an_error_reply(served: tuple[VirtualLab, Handset, ControlClient], request_line: bytes,
                                         error: str) -> None:
    _lab, _handset, client = served
    reply = raw(client.path, request_line)
    assert reply["ok"] is False
    assert error in str(reply["error"])
    assert client.request("ping")  # the server is still there


def test_unknown_sim_and_bad_screen_are_named(served: tuple[VirtualLab, Handset, ControlClient]) -> None:
    _lab, handset, client = served
    with pytest.raises(ControlError, match="unknown SIM profile 'nosuch'; known profiles: china-telecom"):
        client.request("insert_sim", serialno=handset.serial, sim="nosuch")
    with pytest.raises(ControlError, match=r"screen: (package|activity|id): required field is missing"):
        client.request("inject_screen", serialno=handset.serial, screen={"title": "x"})


def test_an_overlong_line_is_refused(served: tuple[VirtualLab, Handset, ControlClient]) -> None:
    _lab, _handset, client = served
    reply = raw(client.path, b'{"op": "ping", "x": "' + b"a" * 100_000 + b'"}\n')
    assert reply == {"ok": False, "error": "request line too long"}
    assert client.request("ping")


def test_fault_ops_reach_the_screen(served: tuple[VirtualLab, Handset, ControlClient]) -> None:
    _lab, handset, client = served
    assert client.request("crash_ui_server", serialno=handset.serial) == {"crashed": False}  # none running
    handset.ui().dump()
    assert client.request("crash_ui_server", serialno=handset.serial) == {"crashed": True}
    assert client.request("inject_screen", serialno=handset.serial, preset="anr", now=True) == {"screen": "anr"}
    assert "android:id/aerr_wait" in handset.ui().dump()


def test_a_gone_lab_is_a_control_error(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="control channel"):
        ControlClient(tmp_path / "nobody.sock").request("ping", timeout=1)


def test_the_embedded_lab_hands_out_its_sim_switcher(lab: Lab, handset: Handset) -> None:
    assert isinstance(lab.sim_switcher, ControlSimSwitcher)
    assert handset.sim_switcher is lab.sim_switcher
    assert handset.serial in lab.sim_switcher.client.request("ping")["handsets"]


def test_the_control_command_sends_one_op(served: tuple[VirtualLab, Handset, ControlClient]) -> None:
    import json as jsonlib
    import subprocess
    import sys

    _lab, handset, client = served

    def control(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "devicelab", "virtual", "control", "--socket", str(client.path),
                               *args], capture_output=True, text=True, timeout=60, check=False)

    ping = control("ping")
    assert ping.returncode == 0, ping.stderr
    assert handset.serial in jsonlib.loads(ping.stdout)["handsets"]
    state = control("usb_state", f"serialno={handset.serial}")
    assert jsonlib.loads(state.stdout) == {"adb_enabled": True, "prompt": None}
    refused = control("teleport")
    assert refused.returncode == 3
    assert "unknown op 'teleport'" in refused.stderr
