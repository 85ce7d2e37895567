"""`LabRouting`: dial the lab's own servers instead of the internet, keeping Host header and SNI.

The lab passes plain data: `hosts` maps a host name (or `host:port`) to the (ip, port) to dial,
and `upstream_ca` (a proxy option, see Capture) makes the proxy trust the lab's servers. A real
lab passes no map: real DNS. With `only=True` a host missing from the map is refused rather than
looked up, so a virtual lab never reaches the internet.

HTTP requests are routed in the `request` hook by changing only the address mitmproxy dials
(`request.data.host/port`: the Host header stays), so keep-alive connections are reused: mitmproxy
reuses a server connection only for the address a request names, and a connection rewritten
after the fact in `server_connect` would never match again (after five, the next request to the
host waits forever for a connection slot). Everything else (raw TCP, a connection opened at
CONNECT time) is routed in `server_connect`. Add this addon after the recorder: the evidence
keeps the address the handset asked for.
"""

from __future__ import annotations

from collections.abc import Mapping

from mitmproxy import http
from mitmproxy.proxy import server_hooks

from devicelab.model.policy import normalize_host


class LabRouting:
    """Routes requests and connections by the lab's hosts map."""

    def __init__(self, hosts: Mapping[str, tuple[str, int]], *, only: bool = False) -> None:
        self.hosts = {normalize_key(k): (str(ip), int(port)) for k, (ip, port) in hosts.items()}
        self.targets = set(self.hosts.values())
        self.only = only
        self.routed = 0

    def target(self, host: str, port: int) -> tuple[str, int] | None:
        """Where `host:port` goes in this lab: `host:port` first, then `host`; None if unmapped."""
        host = normalize_host(host)
        return self.hosts.get(f"{host}:{port}") or self.hosts.get(host)

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return  # answered by the proxy (canary, sinkhole): nothing is dialled
        req = flow.request
        target = self.target(req.pretty_host, req.port) or self.target(req.host, req.port)
        if target is not None:
            req.data.host, req.data.port = target
            self.routed += 1

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if data.server.error is not None or not data.server.address:
            return  # already refused (sinkhole, self-connect)
        host, port = str(data.server.address[0]), int(data.server.address[1])
        if (host, port) in self.targets:
            # routed in the request hook; mitmproxy then names the server by the address it dials: the
            # upstream SNI (and certificate check) must use the name the handset asked for
            if data.server.sni == host:
                data.server.sni = data.client.sni or self._only_name(host, port) or host
            return
        target = self.target(host, port)
        if target is None and data.server.sni:
            target = self.target(data.server.sni, port)  # transparent modes dial an IP; the SNI names it
        if target is not None:
            data.server.address = target
            self.routed += 1
        elif self.only:
            data.server.error = f"devicelab lab routing: {data.server.sni or host}:{port} is not in the lab's hosts map"


    def _only_name(self, host: str, port: int) -> str | None:
        names = {key.rpartition(":")[0] if key.count(":") == 1 else key
                 for key, target in self.hosts.items() if target == (host, port)}
        return names.pop() if len(names) == 1 else None


def normalize_key(key: str) -> str:
    host, sep, port = key.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return f"{normalize_host(host)}:{port}"
    return normalize_host(key)
