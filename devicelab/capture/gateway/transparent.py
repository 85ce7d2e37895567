"""The gateway's transparent TCP path: the rules redirect every TCP connection of a handset to
this listener in the gateway namespace; each one is handed to the run's mitmproxy (devicelab.
capture.hub, on loopback in the root namespace) as `CONNECT <original destination>`.

mitmproxy then does what its transparent mode does (TLS read where the handset trusts the CA,
else recorded with its SNI by the recorder; plain HTTP read; anything else a raw TCP flow), with
the capture's addons (recorder, sinkhole, lab routing) unchanged. The relay runs on our own
threads, so mitmproxy's runtime never has to live in the gateway's namespace (its tokio runtime
takes the namespace of the first thread that uses it). The listener is made in the gateway
namespace; the sockets toward mitmproxy are made by the relay's threads, in the root namespace.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass

from devicelab.errors import CaptureError

SO_ORIGINAL_DST = 80
CONNECT_TIMEOUT = 10.0
IDLE_TIMEOUT = 120.0  # a relayed connection with no byte either way this long is closed
POLL = 0.2
CHUNK = 65536


@dataclass
class Relayed:
    client: tuple[str, int]
    original: tuple[str, int]
    bytes_up: int = 0
    bytes_down: int = 0
    error: str = ""
    proxy_port: int = 0  # the relay's own port toward mitmproxy: the flows' client address


def open_listener(port: int, host: str = "0.0.0.0") -> socket.socket:  # noqa: S104
    """Call in the gateway namespace. `host`: the gateway's own namespace listens on every link (REDIRECT
    targets each link's address); on a lab's host, only on the handsets' interface's address."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def original_destination(sock: socket.socket) -> tuple[str, int]:
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port = struct.unpack_from("!H", raw, 2)[0]
    return socket.inet_ntoa(raw[4:8]), port


class TransparentRelay:
    def __init__(self, listener: socket.socket, proxy: tuple[str, int]) -> None:
        self.listener, self.proxy = listener, proxy
        self.relayed: list[Relayed] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: set[threading.Thread] = set()
        self.listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, name="gateway-tcp", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._relay, args=(conn, peer), name="gateway-tcp-conn", daemon=True)
            with self._lock:
                self._threads.add(thread)
            thread.start()

    def _relay(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        try:
            original = original_destination(conn)
        except OSError:  # not a redirected connection (someone dialled the port itself): nothing to relay
            conn.close()
            with self._lock:
                self._threads.discard(threading.current_thread())
            return
        record = Relayed(peer, original)
        with self._lock:
            self.relayed.append(record)
        try:
            with conn, socket.create_connection(self.proxy, CONNECT_TIMEOUT) as upstream:
                record.proxy_port = upstream.getsockname()[1]
                _connect(upstream, record.original)
                self._pump(conn, upstream, record)
        except (OSError, CaptureError) as exc:
            record.error = str(exc)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _pump(self, client: socket.socket, upstream: socket.socket, record: Relayed) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(client, selectors.EVENT_READ, upstream)
            sel.register(upstream, selectors.EVENT_READ, client)
            open_sides = 2
            last = time.monotonic()
            while open_sides and not self._stop.is_set():
                ready = sel.select(POLL)  # short: a stopping relay is not held up by an idle connection
                if not ready:
                    if time.monotonic() - last > IDLE_TIMEOUT:
                        return
                    continue
                last = time.monotonic()
                for key, _ in ready:
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(CHUNK)
                    target: socket.socket = key.data
                    if not data:  # half-close: pass the FIN on, keep reading the other side
                        sel.unregister(source)
                        open_sides -= 1
                        with contextlib.suppress(OSError):
                            target.shutdown(socket.SHUT_WR)
                        continue
                    target.sendall(data)
                    if source is client:
                        record.bytes_up += len(data)
                    else:
                        record.bytes_down += len(data)

    def stop(self) -> list[Relayed]:
        self._stop.set()
        self._thread.join(5.0)
        self.listener.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(2.0)
        with self._lock:
            return list(self.relayed)


def _connect(upstream: socket.socket, target: tuple[str, int]) -> None:
    host, port = target
    upstream.settimeout(CONNECT_TIMEOUT)
    upstream.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = upstream.recv(1)  # byte by byte: nothing past the proxy's answer may be swallowed
        if not chunk or len(head) > 16384:
            raise CaptureError(f"the proxy did not answer CONNECT {host}:{port}")
        head += chunk
    first_line = head.split(b"\r\n", 1)[0]
    status = first_line.split()
    if len(status) < 2 or not status[1].startswith(b"2"):
        raise CaptureError(f"the proxy refused CONNECT {host}:{port}: {first_line!r}")
    upstream.settimeout(None)
