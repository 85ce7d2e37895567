"""`ProxyHub`: the process's one mitmproxy Master, shared by every running capture.

mitmproxy keeps its context (`mitmproxy.ctx`) per process, so one process runs one Master. A
gate run watches several handsets at once; each capture becomes one listening mode of the shared
Master (its own port) with its own addon chain, and a dispatcher addon hands every event to the
chain of the mode the handset's connection came in on. The Master starts with the first capture
and stops with the last, so the run's CA lives exactly as long as the captures that use it.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mitmproxy import connection, dns, http, tcp, tls, udp
from mitmproxy.proxy import mode_specs, server_hooks

from devicelab.capture.ca import RunCA, create_run_ca, lab_run_ca
from devicelab.capture.runner import CLOSE_GRACE, ProxyThread, close_connections
from devicelab.errors import CaptureError

log = logging.getLogger(__name__)


def normalise(spec: str) -> str:
    """A mode spec as mitmproxy writes it back in `client.proxy_mode.full_spec`."""
    try:
        return mode_specs.ProxyMode.parse(spec).full_spec
    except ValueError as exc:
        raise CaptureError(f"bad proxy mode {spec!r}: {exc}") from None


class Dispatcher:
    """Addon: each event goes to the addons of the capture whose mode the client connected to.

    An addon's exception is logged and does not keep the event from the next addon, as with
    mitmproxy's own addon manager."""

    def __init__(self) -> None:
        #: mode spec -> addon chain; replaced, never mutated, and only on the proxy's loop
        self.routes: dict[str, tuple[object, ...]] = {}

    def _call(self, hook: str, client: connection.Client, arg: object) -> None:
        for addon in self.routes.get(client.proxy_mode.full_spec, ()):
            method = getattr(addon, hook, None)
            if method is None:
                continue
            try:
                method(arg)
            except Exception:
                log.exception("capture addon %s failed in %s", type(addon).__name__, hook)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._call("http_connect", flow.client_conn, flow)

    def client_disconnected(self, client: connection.Client) -> None:
        self._call("client_disconnected", client, client)

    def request(self, flow: http.HTTPFlow) -> None:
        self._call("request", flow.client_conn, flow)

    def response(self, flow: http.HTTPFlow) -> None:
        self._call("response", flow.client_conn, flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._call("error", flow.client_conn, flow)

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        self._call("websocket_start", flow.client_conn, flow)

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        self._call("websocket_message", flow.client_conn, flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._call("websocket_end", flow.client_conn, flow)

    def dns_request(self, flow: dns.DNSFlow) -> None:
        self._call("dns_request", flow.client_conn, flow)

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self._call("tcp_start", flow.client_conn, flow)

    def tcp_message(self, flow: tcp.TCPFlow) -> None:
        self._call("tcp_message", flow.client_conn, flow)

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        self._call("tcp_end", flow.client_conn, flow)

    def tcp_error(self, flow: tcp.TCPFlow) -> None:
        self._call("tcp_error", flow.client_conn, flow)

    def udp_start(self, flow: udp.UDPFlow) -> None:
        self._call("udp_start", flow.client_conn, flow)

    def udp_message(self, flow: udp.UDPFlow) -> None:
        self._call("udp_message", flow.client_conn, flow)

    def udp_end(self, flow: udp.UDPFlow) -> None:
        self._call("udp_end", flow.client_conn, flow)

    def udp_error(self, flow: udp.UDPFlow) -> None:
        self._call("udp_error", flow.client_conn, flow)

    def tls_failed_client(self, data: tls.TlsData) -> None:
        self._call("tls_failed_client", data.context.client, data)

    def tls_failed_server(self, data: tls.TlsData) -> None:
        self._call("tls_failed_server", data.context.client, data)

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._call("server_connect", data.client, data)


@dataclass(frozen=True)
class Attached:
    """A capture's place in the hub: its mode, where it listens, and the run's CA."""

    spec: str
    address: tuple[str, int]
    ca: RunCA


class ProxyHub:
    """One Master for every capture of this process (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proxy: ProxyThread | None = None
        self._dispatch = Dispatcher()
        self._modes: list[str] = []
        self._shared: dict[str, Any] = {}
        self._ca: RunCA | None = None
        self._lab_ca = False

    @property
    def captures(self) -> int:
        return len(self._modes)

    def attach(self, spec: str, addons: Sequence[object], shared: dict[str, Any], *, timeout: float,
               label: str = "", lab_ca: bool = False) -> Attached:
        """Listen on `spec` and route its events to `addons`. `shared` are the Master's options
        (TLS, upstream) and `lab_ca` its CA (the lab's own, or a fresh one): a capture that needs
        other ones cannot join a running Master."""
        spec = normalise(spec)
        with self._lock:
            if self._proxy is None:
                return self._start(spec, tuple(addons), shared, timeout, label, lab_ca)
            if lab_ca != self._lab_ca:
                raise CaptureError("a capture with the other CA (the lab's own or a fresh one) is running in this "
                                   "process; mitmproxy signs with one CA per process")
            if shared != self._shared:
                differ = sorted(k for k in {*shared, *self._shared} if shared.get(k) != self._shared.get(k))
                raise CaptureError(f"a capture with other proxy options ({', '.join(differ)}) is running in this "
                                   "process; mitmproxy runs one set of options per process")
            if spec in self._modes:
                raise CaptureError(f"a capture already listens on {spec}")
            assert self._ca is not None
            modes = [*self._modes, spec]
            address = self._proxy.call(lambda: self._set_modes(modes, spec, tuple(addons)), timeout)
            self._modes = modes
            return Attached(spec, address, self._ca)

    def detach(self, spec: str, timeout: float) -> None:
        """Stop listening on `spec` and close its connections; the last capture out stops the Master."""
        with self._lock:
            if spec not in self._modes or self._proxy is None:
                return
            remaining = [m for m in self._modes if m != spec]
            if not remaining:
                proxy, ca = self._proxy, self._ca
                self._proxy, self._ca, self._modes = None, None, []
                try:
                    proxy.stop(timeout)  # events of closing connections still reach their capture
                finally:
                    self._dispatch.routes = {}
                    if ca is not None:  # the key goes with the last capture that used it
                        shutil.rmtree(ca.confdir, ignore_errors=True)
                return
            self._modes = remaining
            self._proxy.call(lambda: self._set_modes(remaining, None, ()), timeout)

    def _start(self, spec: str, addons: tuple[object, ...], shared: dict[str, Any], timeout: float,
               label: str, lab_ca: bool) -> Attached:
        confdir = Path(tempfile.mkdtemp(prefix="devicelab-ca-"))  # 0700: the run's CA key lives here
        try:
            ca = lab_run_ca(confdir) if lab_ca else create_run_ca(confdir, label=label)
            self._dispatch.routes = {spec: addons}
            proxy = ProxyThread([self._dispatch], {**shared, "confdir": str(confdir), "mode": [spec]}, name="capture")
            addrs = proxy.start(timeout)
        except BaseException:
            self._dispatch.routes = {}
            shutil.rmtree(confdir, ignore_errors=True)
            raise
        self._proxy, self._ca, self._modes, self._shared = proxy, ca, [spec], dict(shared)
        self._lab_ca = lab_ca
        return Attached(spec, addrs[0], ca)

    async def _set_modes(self, modes: list[str], added: str | None, addons: tuple[object, ...]) -> tuple[str, int]:
        """On the proxy's loop: the new route first, then the servers; a removed mode's route goes
        only after its server and connections are closed, so no late event reaches a closed log."""
        assert self._proxy is not None
        assert self._proxy.master is not None
        master = self._proxy.master
        if added is not None:
            self._dispatch.routes = {**self._dispatch.routes, added: addons}
        server: Any = master.addons.get("proxyserver")  # type: ignore[no-untyped-call]
        master.options.update(mode=modes)  # type: ignore[no-untyped-call]
        await server.servers.update([mode_specs.ProxyMode.parse(m) for m in modes])
        gone = [s for s in self._dispatch.routes if s not in modes]
        if gone:
            await close_connections(server, CLOSE_GRACE, lambda h: h.client.proxy_mode.full_spec in gone)
            self._dispatch.routes = {s: a for s, a in self._dispatch.routes.items() if s in modes}
        if added is None:
            return ("", 0)
        instance = next((i for i in server.servers if i.mode.full_spec == added), None)
        if instance is None or instance.last_exception is not None or not instance.listen_addrs:
            self._dispatch.routes = {s: a for s, a in self._dispatch.routes.items() if s != added}
            why = instance.last_exception if instance is not None else "no server was made"
            with contextlib.suppress(Exception):
                remaining = [m for m in modes if m != added]
                master.options.update(mode=remaining)  # type: ignore[no-untyped-call]
                await server.servers.update([mode_specs.ProxyMode.parse(m) for m in remaining])
            raise CaptureError(f"the proxy could not listen on {added}: {why}")
        host, port = instance.listen_addrs[0][:2]
        return str(host), int(port)


#: the process's hub
HUB = ProxyHub()
