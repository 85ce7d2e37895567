"""tcp:PORT: `adb forward` to a device-local service, and refusal when nothing listens there."""

from __future__ import annotations

import asyncio
import socket

from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import recv_exactly, run_adb


async def start_echo_server(lab: VirtualLab, device_port: int) -> asyncio.Server:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    lab.handsets[0].local_ports[device_port] = ("127.0.0.1", server.sockets[0].getsockname()[1])
    return server


async def stop_server(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()


def forward(adb_port: int, serial: str, device_port: int) -> int:
    proc = run_adb(adb_port, "-s", serial, "forward", "tcp:0", f"tcp:{device_port}")
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip())


def test_forward_reaches_the_device_local_service(lab: VirtualLab, adb_port: int, serial: str) -> None:
    server = lab.call(start_echo_server(lab, 9008))
    try:
        host_port = forward(adb_port, serial, 9008)
        blob = bytes(range(256)) * 4096  # 1 MiB: several WRTEs each way
        for _ in range(2):  # one stream per connection, as uiautomator2 opens them
            with socket.create_connection(("127.0.0.1", host_port), timeout=5) as sock:
                sock.sendall(b"ping")
                assert recv_exactly(sock, 4) == b"ping"
                sock.sendall(blob)
                assert recv_exactly(sock, len(blob)) == blob
    finally:
        run_adb(adb_port, "-s", serial, "forward", "--remove-all")
        lab.call(stop_server(server))


def test_forward_to_a_port_nobody_listens_on_is_refused(lab: VirtualLab, adb_port: int, serial: str) -> None:
    host_port = forward(adb_port, serial, 9009)
    try:
        with socket.create_connection(("127.0.0.1", host_port), timeout=5) as sock:
            sock.sendall(b"GET /ping HTTP/1.1\r\n\r\n")
            assert sock.recv(100) == b""  # the device refused the tcp:9009 stream
        assert run_adb(adb_port, "-s", serial, "shell", "echo still here").stdout == "still here\n"
    finally:
        run_adb(adb_port, "-s", serial, "forward", "--remove-all")


def test_adb_reverse_leads_a_handset_port_to_the_host_through_the_real_adb_server(lab: VirtualLab,
                                                                                   adb_port: int,
                                                                                   serial: str) -> None:
    """`adb reverse tcp:X tcp:Y`: what an app sends to the handset's port X arrives at the host's
    localhost:Y over the adb link (the proxy of a phone on USB); --list shows it, --remove ends it."""
    import socket as socketlib

    with socketlib.socket() as host_side:
        host_side.bind(("127.0.0.1", 0))
        host_side.listen(1)
        host_port = host_side.getsockname()[1]
        added = run_adb(adb_port, "-s", serial, "reverse", "tcp:8118", f"tcp:{host_port}")
        assert added.returncode == 0, added.stderr
        listing = run_adb(adb_port, "-s", serial, "reverse", "--list")
        assert f"tcp:8118 tcp:{host_port}" in listing.stdout
        handset = lab.handsets[0]
        device_side = lab.call(lambda: handset.local_ports.get(8118))
        assert device_side is not None
        with socketlib.create_connection(device_side, timeout=5) as app:  # an app dials 127.0.0.1:8118
            app.sendall(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
            host_side.settimeout(5)
            accepted, _ = host_side.accept()
            with accepted:
                accepted.settimeout(5)
                assert accepted.recv(100).startswith(b"CONNECT example.com:443")
                accepted.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
                assert app.recv(100).startswith(b"HTTP/1.1 200")
        removed = run_adb(adb_port, "-s", serial, "reverse", "--remove", "tcp:8118")
        assert removed.returncode == 0, removed.stderr
        assert lab.call(lambda: handset.local_ports.get(8118)) is None
        assert "tcp:8118" not in run_adb(adb_port, "-s", serial, "reverse", "--list").stdout
        again = run_adb(adb_port, "-s", serial, "reverse", "--remove", "tcp:8118")
        assert again.returncode != 0
        assert "not found" in again.stderr
