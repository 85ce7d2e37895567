"""The transport as a raw host sees it: leniency, refusal, flow control, max_payload, CLSE rules."""

from __future__ import annotations

import socket

import pytest

from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import A_CLSE, A_OKAY, A_WRTE, RawHost, wait_until


def adbd_port(lab: VirtualLab) -> int:
    return lab.handsets[0].adbd.port  # type: ignore[union-attr,no-any-return]


def test_bad_data_check_is_accepted_and_banner_names_the_model(lab: VirtualLab) -> None:
    host = RawHost(adbd_port(lab), data_check=0xDEADBEEF)
    try:
        assert host.banner.startswith(b"device::")
        assert b"ro.product.model=Nokia 7 plus" in host.banner
    finally:
        host.close()


def test_unknown_service_is_refused_and_stray_packets_are_dropped(lab: VirtualLab) -> None:
    host = RawHost(adbd_port(lab))
    try:
        assert host.open(5, "frobnicate:now")[:3] == (A_CLSE, 0, 5)
        host.send(A_WRTE, 6, 999, b"nobody")  # unknown id: dropped, no answer
        host.send(A_OKAY, 6, 999)
        command, device_id, host_id, _ = host.open(7, "shell:echo alive")
        assert (command, host_id) == (A_OKAY, 7)
        _, _, _, data = host.expect(A_WRTE)
        assert data == b"alive\n"
        host.send(A_OKAY, 7, device_id)
        assert host.expect(A_CLSE)[1:3] == (device_id, 7)
    finally:
        host.close()


def test_one_write_in_flight_and_max_payload(lab: VirtualLab, stand_in_commands: list[str]) -> None:
    host = RawHost(adbd_port(lab), max_payload=4096)
    try:
        _, device_id, _, _ = host.open(1, "exec:t-flood 20000")
        received = b""
        while True:
            command, _, _, data = host.read()
            if command == A_CLSE:
                break
            assert command == A_WRTE
            assert len(data) <= 4096
            received += data
            with pytest.raises(socket.timeout):
                host.read(timeout=0.1)  # nothing more until this WRTE is OKAYed
            host.send(A_OKAY, 1, device_id)
        assert received == b"x" * 20000
    finally:
        host.close()


def test_host_clse_is_never_answered_with_clse(lab: VirtualLab, stand_in_commands: list[str]) -> None:
    host = RawHost(adbd_port(lab))
    try:
        _, device_id, _, _ = host.open(3, "shell:t-wait-closed")
        wait_until(lambda: "started" in stand_in_commands, 5, "the command to start")
        host.send(A_CLSE, 3, device_id)
        wait_until(lambda: "closed" in stand_in_commands, 5, "the command to see the close")
        with pytest.raises(socket.timeout):
            host.read(timeout=0.3)
    finally:
        host.close()


def test_garbage_drops_only_that_connection(lab: VirtualLab) -> None:
    with socket.create_connection(("127.0.0.1", adbd_port(lab)), timeout=3) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100) == b""
    host = RawHost(adbd_port(lab))
    try:
        assert host.open(1, "shell:echo ok")[0] == A_OKAY
    finally:
        host.close()


def test_interactive_shell(lab: VirtualLab) -> None:
    host = RawHost(adbd_port(lab))
    try:
        _, device_id, _, _ = host.open(1, "shell:")
        output = b""

        def read_until(marker: bytes) -> None:
            nonlocal output
            while marker not in output:
                command, _, _, data = host.read()
                if command == A_OKAY:  # the device acknowledging our keystrokes
                    continue
                assert command == A_WRTE
                output += data
                host.send(A_OKAY, 1, device_id)

        read_until(b"$ ")
        host.send(A_WRTE, 1, device_id, b"echo hi\r")
        read_until(b"hi\r\n")
        host.send(A_WRTE, 1, device_id, b"exit\r")
        while (packet := host.read())[0] != A_CLSE:
            if packet[0] == A_WRTE:
                host.send(A_OKAY, 1, device_id)
        assert output.startswith(b"B2N_sprout:/ $ ")
    finally:
        host.close()


def test_stopped_adbd_closes_connections_at_once(lab: VirtualLab) -> None:
    handset = lab.handsets[0]
    lab.call(handset.adbd.stop())  # type: ignore[union-attr]
    with socket.create_connection(("127.0.0.1", adbd_port(lab)), timeout=3) as sock:
        assert sock.recv(100) == b""
    lab.call(handset.adbd.start())  # type: ignore[union-attr]
    host = RawHost(adbd_port(lab))  # the listening socket survived the stop
    try:
        assert host.open(1, "shell:echo ok")[0] == A_OKAY
    finally:
        host.close()
