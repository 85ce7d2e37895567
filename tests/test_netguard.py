"""The network guard: a test that reaches for an address off this machine fails, with a message
that says why, before a packet leaves."""

from __future__ import annotations

import ctypes
import socket
import threading

import pytest

from devicelab.lab import netguard

pytest_plugins = ["pytester"]
#: TEST-NET-1 (RFC 5737): never routed, so even a guard that failed open would send nothing real
PUBLIC = ("192.0.2.1", 80)


def test_the_guard_is_on_in_devicelabs_own_test_run() -> None:
    assert netguard.installed()


def test_a_connection_to_a_public_address_is_refused_with_a_clear_message() -> None:
    refused = r"network guard: connect to \('192.0.2.1', 80\) refused: devicelab's tests stay on loopback"
    with netguard.expecting_refusals(), pytest.raises(netguard.OffMachineError, match=refused):
        socket.create_connection(PUBLIC, timeout=1)


def test_a_name_is_not_resolved_through_the_machines_resolver() -> None:
    with netguard.expecting_refusals(), \
            pytest.raises(netguard.OffMachineError, match=r"resolving 'example\.com' refused"):
        socket.getaddrinfo("example.com", 443)


def test_a_datagram_off_the_machine_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, netguard.expecting_refusals(), \
            pytest.raises(netguard.OffMachineError):
        udp.sendto(b"x", ("198.51.100.7", 53))


def test_loopback_and_unix_sockets_are_untouched() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=1).close()
    left, right = socket.socketpair()
    left.sendall(b"ok")
    assert right.recv(2) == b"ok"
    left.close()
    right.close()


def test_an_attempt_in_a_thread_the_test_cannot_see_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndevicelab_network_guard = true\n")
    pytester.makepyfile(test_inner='''
import socket, threading

def test_proxy_thread_dials_out():
    def dial():
        try:
            socket.create_connection(("192.0.2.1", 80), timeout=1)
        except OSError:
            pass  # a proxy swallows its upstream errors
    t = threading.Thread(target=dial)
    t.start()
    t.join()
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*network guard: connect to ('192.0.2.1', 80) refused*"])


def test_a_thread_inside_its_own_network_namespace_may_reach_its_addresses() -> None:
    """The gateway tests' namespaces are private to them: nothing there is routed out."""
    libc = ctypes.CDLL(None, use_errno=True)
    seen: list[BaseException | None] = []

    def inside() -> None:
        if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET, this thread only
            seen.append(PermissionError(ctypes.get_errno(), "unshare"))
            return
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(b"x", ("10.9.9.9", 9))
            seen.append(None)
        except OSError as exc:
            seen.append(exc)

    thread = threading.Thread(target=inside)
    thread.start()
    thread.join()
    if isinstance(seen[0], PermissionError) and not isinstance(seen[0], netguard.OffMachineError):
        pytest.skip("no CAP_SYS_ADMIN to make a network namespace")
    assert not isinstance(seen[0], netguard.OffMachineError)
    assert isinstance(seen[0], OSError)  # unreachable: the namespace has no route, and the guard let it try
