"""The handset's TCP connections as /proc/net/tcp{,6} shows them.

A connection is listed ESTABLISHED with its app's uid while it is open (Android's HTTP stack
keeps an idle connection pooled for five minutes), then TIME_WAIT for a minute after the
device closes it. As on a real kernel, a TIME_WAIT row no longer belongs to a socket: its uid
and inode read 0. The local port is the real port of the loopback socket, so the port a proxy
sees as its client's (peername) finds the row, and through the uid the package.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from devicelab.virtual.android import SocketEntry

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem
    from devicelab.virtual.clock import DeviceClock

#: OkHttp's connection pool keeps an idle connection this long (device seconds)
KEEPALIVE = 300.0
#: Linux TCP_TIMEWAIT_LEN (device seconds)
TIME_WAIT = 60.0


def as_seen(address: tuple[str, int], java: bool) -> tuple[str, int]:
    """Java sockets are dual-stack: an IPv4 peer shows as ::ffff:a.b.c.d in /proc/net/tcp6."""
    host, port = address[0], address[1]
    if java and ":" not in host:
        return f"::ffff:{host}", port
    return host, port


class Connection:
    """One open device connection's row in the socket table."""

    def __init__(self, table: SocketTable, entry: SocketEntry) -> None:
        self.table = table
        self.entry = entry
        self.closed = False

    def close(self) -> None:
        """The device closes first: the row turns TIME_WAIT, then goes away."""
        if self.closed:
            return
        self.closed = True
        self.table.to_time_wait(self.entry)


class SocketTable:
    """Adds and retires rows of `system.sockets` on the device clock."""

    def __init__(self, system: AndroidSystem, clock: DeviceClock) -> None:
        self.system = system
        self.clock = clock
        self._timers: set[asyncio.TimerHandle] = set()
        self._idle: dict[Connection, Callable[[], None]] = {}
        self._down = False

    def opened(self, local: tuple[str, int], remote: tuple[str, int], uid: int, *, java: bool) -> Connection:
        entry = SocketEntry(
            proto="tcp6" if java else "tcp", local=as_seen(local, java), remote=as_seen(remote, java),
            state="ESTABLISHED", uid=uid, inode=self.system.next_inode(),
        )
        self.system.sockets.append(entry)
        return Connection(self, entry)

    def to_time_wait(self, entry: SocketEntry) -> None:
        if entry not in self.system.sockets:
            return
        self.system.sockets.remove(entry)
        waiting = SocketEntry(entry.proto, entry.local, entry.remote, "TIME_WAIT", 0, 0)
        self.system.sockets.append(waiting)
        self.later(TIME_WAIT, lambda: self.system.close_socket(waiting))

    def keep_alive(self, connection: Connection, close_socket: Callable[[], None]) -> None:
        """Pool an idle connection; after KEEPALIVE the device closes it (then TIME_WAIT)."""
        if self._down:  # a request that ended as the system went down: nothing is left to pool it in
            with contextlib.suppress(Exception):
                close_socket()
            connection.close()
            return
        self._idle[connection] = close_socket

        def expire() -> None:
            closer = self._idle.pop(connection, None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer()
            connection.close()

        self.later(KEEPALIVE, expire)

    def later(self, device_seconds: float, callback: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            callback()

        handle = loop.call_later(self.clock.host_seconds(device_seconds), fire)
        self._timers.add(handle)

    def shutdown(self) -> None:
        """The system goes down: close every pooled socket and forget the timers."""
        self._down = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        idle, self._idle = self._idle, {}
        for closer in idle.values():
            with contextlib.suppress(Exception):
                closer()
