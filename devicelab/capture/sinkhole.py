"""`Sinkhole`: answer unapproved hosts from the proxy itself, so reproducing a leak does not leak again.

The request is still recorded in full (the recorder sees it like any other); only the upstream
never hears of it. `server_connect` refuses any connection to such a host as a second line of
defence (raw TCP inside a tunnel, an eager connection). Needs connection_strategy=lazy: with
eager, mitmproxy dials the host at CONNECT time, before the `request` hook can answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mitmproxy import http
from mitmproxy.proxy import server_hooks

from devicelab.capture.config import HostRule
from devicelab.model.policy import host_matches, normalize_host

SINKHOLED = "devicelab.sinkholed"


@dataclass(frozen=True)
class Reply:
    """What the sinkhole answers a host with."""

    status: int = 204
    body: bytes = b""
    content_type: str = ""


#: Plausible answers that let a client finish its exchange (the ZZHC client wants its success JSON).
DEFAULT_REPLIES: Mapping[str, Reply] = {
    "zzhc.vnet.cn": Reply(200, b'{"resultCode":"0","resultDesc":"Success"}', "application/json"),
}
DEFAULT_REPLY = Reply()


class Sinkhole:
    """Answers every request to a host `rule` matches; records the decision in flow.metadata."""

    def __init__(self, rule: HostRule, replies: Mapping[str, Reply] = DEFAULT_REPLIES) -> None:
        self.rule = rule
        self.replies = dict(replies)
        self.answered = 0
        self.refused = 0

    def matches(self, *hosts: str | None) -> bool:
        return any(host and self.rule.matches(host) for host in hosts)

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or not self.matches(flow.request.pretty_host, flow.request.host):
            return
        reply = self.reply_for(flow.request.pretty_host)
        headers = {"content-type": reply.content_type} if reply.content_type else {}
        flow.response = http.Response.make(reply.status, reply.body, headers)
        flow.metadata[SINKHOLED] = True
        self.answered += 1

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        host = str(data.server.address[0]) if data.server.address else ""
        if data.server.error is None and self.matches(host, data.server.sni):
            data.server.error = f"devicelab sinkhole: {data.server.sni or host} is not contacted"
            self.refused += 1

    def reply_for(self, host: str) -> Reply:
        host = normalize_host(host)
        return next((r for pattern, r in self.replies.items() if host_matches(pattern, host)), DEFAULT_REPLY)
