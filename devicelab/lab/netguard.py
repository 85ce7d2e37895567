"""The network guard: a lab under test never sends a packet off this machine.

Installed by the pytest plugin when the `devicelab_network_guard` ini option is on (devicelab's own
test run), and by the virtual lab's process when it inherits DEVICELAB_NETWORK_GUARD=1. It wraps
the socket calls that start traffic (connect, connect_ex, sendto, sendmsg, getaddrinfo) and
refuses any toward an address that is not loopback, unless the calling thread or the socket itself
lives in a network namespace of its own (a test's namespaces are private to it: nothing there is
routed out; a socket made in a handset's namespace and used from the main loop stays there).

A refused call raises OffMachineError in the thread that made it, and is recorded: an attempt
made in a thread a test does not see (the proxy's, the lab's) still fails the test (`take`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

ENV = "DEVICELAB_NETWORK_GUARD"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class OffMachineError(PermissionError):
    """A socket call toward an address off this machine, refused by the network guard."""


_attempts: list[str] = []
_lock = threading.Lock()
_originals: dict[str, Callable[..., Any]] = {}
_root_netns = ""
_root_cookie: int | None = None
SO_NETNS_COOKIE = 71  # Linux 5.14+: which network namespace a socket lives in


def _netns() -> str:
    try:
        return os.readlink(f"/proc/self/task/{threading.get_native_id()}/ns/net")
    except OSError:
        return _root_netns


def _local_ip(host: str) -> bool | None:
    """True for loopback / unspecified addresses, False for others, None when `host` is a name."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _refuse(call: str, target: object) -> None:
    message = (f"network guard: {call} {target!r} refused: devicelab's tests stay on loopback or inside "
               "their own network namespaces (lab routing with `only`, see ARCHITECTURE.md)")
    with _lock:
        _attempts.append(message)
    raise OffMachineError(message)


def _cookie(sock: socket.socket) -> int | None:
    try:
        return int.from_bytes(sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8), "little")
    except OSError:
        return None


def _check(call: str, sock: socket.socket, address: object) -> None:
    family = sock.family
    if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple) or not address:
        return  # unix sockets, netlink, packet sockets: nothing leaves the machine through them
    host = str(address[0])
    if _local_ip(host) is True or _netns() != _root_netns:
        return
    if _root_cookie is not None and _cookie(sock) not in (None, _root_cookie):
        return
    if _local_ip(host) is None and host.lower() in _LOCAL_NAMES:
        return
    _refuse(call, address)


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check("connect to", self, address)
    _originals["connect"](self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check("connect to", self, address)
    result: int = _originals["connect_ex"](self, address)
    return result


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _check("datagram to", self, args[-1])
    result: int = _originals["sendto"](self, data, *args)
    return result


def _guarded_sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
    if len(args) >= 3 and args[2] is not None:
        _check("datagram to", self, args[2])
    result: int = _originals["sendmsg"](self, buffers, *args)
    return result


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # resolving a name asks the machine's resolver, which may ask one off the machine
    name = host.decode() if isinstance(host, bytes) else host
    if (name is not None and _local_ip(str(name)) is None and str(name).lower() not in _LOCAL_NAMES
            and str(name) != socket.gethostname() and _netns() == _root_netns):
        _refuse("resolving", name)
    return _originals["getaddrinfo"](host, *args, **kwargs)


def install() -> None:
    """Guard this process (idempotent); child processes inherit it through DEVICELAB_NETWORK_GUARD."""
    global _root_netns, _root_cookie
    if _originals:
        return
    _root_netns = _netns() or "unknown"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        _root_cookie = _cookie(probe)
    os.environ[ENV] = "1"
    for name, guarded in (("connect", _guarded_connect), ("connect_ex", _guarded_connect_ex),
                          ("sendto", _guarded_sendto), ("sendmsg", _guarded_sendmsg)):
        _originals[name] = getattr(socket.socket, name)
        setattr(socket.socket, name, guarded)
    _originals["getaddrinfo"] = socket.getaddrinfo
    socket.getaddrinfo = _guarded_getaddrinfo


def install_from_env() -> None:
    """For a process devicelab starts (the virtual lab): guarded when its parent was."""
    if os.environ.get(ENV) == "1":
        install()


def installed() -> bool:
    return bool(_originals)


def take() -> list[str]:
    """The attempts refused since the last call."""
    with _lock:
        taken = list(_attempts)
        _attempts.clear()
    return taken


@contextlib.contextmanager
def expecting_refusals() -> Any:
    """For a test that provokes refusals on purpose: they are its own, not a failure."""
    take()
    try:
        yield
    finally:
        take()
