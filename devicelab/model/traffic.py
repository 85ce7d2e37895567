"""The typed model every capture is read into: a Flow holds what the handset sent, a CoverageGap
what the capture could not see.

HAR files, mitmproxy flow files and (later) the live capture addon all produce these; the
analysis only ever sees this model, never a mitmproxy object.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal

Protocol = Literal["http", "tcp", "udp", "dns"]
#: Key in mitmproxy's flow.metadata under which the capture records the app (package) that sent a flow.
APP_METADATA_KEY = "devicelab.app"


@dataclass(frozen=True, slots=True)
class Request:
    """What left the handset in one flow."""

    method: str
    scheme: str  # http, https, tcp, udp, dns
    host: str  # as the client named it: Host header, SNI or DNS name; the address if nothing better
    port: int
    path: str  # path and query, as on the wire
    http_version: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    content: bytes = b""
    #: True when `content` still has its Content-Encoding applied (mitmproxy's raw content);
    #: False when the source already undid it (HAR stores decoded text).
    content_encoded: bool = True
    address: str = ""  # the server address dialled (an IP in transparent modes)

    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers:  # a loop, not a generator: the analysis asks this of every request
            if key.lower() == wanted:
                return value
        return None

    @property
    def url(self) -> str:
        if self.scheme in ("http", "https"):
            default = 443 if self.scheme == "https" else 80
            port = "" if self.port in (0, default) else f":{self.port}"
            return f"{self.scheme}://{self.host}{port}{self.path}"
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Flow:
    """One request (or raw connection) from a capture, and where it came from."""

    source: str  # capture file, or the live capture's name
    index: int  # position in the capture, from 0
    id: str
    request: Request
    tls: bool  # the handset sent it inside TLS (decrypted by the proxy)
    protocol: Protocol = "http"
    app: str | None = None
    timestamp: float | None = None
    client: str = ""  # the handset's address as the proxy saw it
    status: int | None = None  # response status, if there was a response
    error: str = ""
    #: TLS the proxy could not see into (pinned app, passed-through host): only the SNI is known.
    undecrypted_tls: bool = False
    #: where the connection really went (CONNECT target, original destination, the URL's host), as
    #: opposed to `host`, which the client chose (SNI, Host header); "" when the source does not say
    destination: str = ""
    sni: str = ""  # the TLS server name the client sent, when it sent one

    @property
    def host(self) -> str:
        return self.request.host

    @property
    def names(self) -> tuple[str, ...]:
        """Every host name this flow goes by (client-given and real destination), lower-case,
        each once, `host` first. An address literal counts only when there is no name at all."""
        found: list[str] = []
        for each in (self.request.host, self.destination, self.sni, self.request.address):
            name = each.strip().strip("[]").lower().rstrip(".")
            if name and name not in found:
                found.append(name)
        names = [n for n in found if not _is_address(n)]
        return tuple(names or found)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CaptureRead:
    """The flows read from one capture file, and the error that stopped reading early, if any."""

    source: str
    format: Literal["har", "mitmproxy", "evidence"]
    flows: tuple[Flow, ...]
    error: str = ""
    skipped: tuple[str, ...] = field(default=())  # entries that could not become flows, and why


GapKind = Literal[
    "tls_undecrypted",  # TLS the proxy could not open (pinned app, passed-through host)
    "capture_incomplete",  # the capture file ends early (torn) or the capture stopped
    "canary_failed",  # a known leak planted to prove the capture works was not seen
    "unproxied_connection",  # the handset reached the network without the proxy
    "empty_capture",  # nothing was captured at all
    "name_mismatch",  # the client named one host (SNI, Host) and connected to another
    "opaque_connection",  # the gateway's packet record shows a connection no flow reads (its bytes unread)
    "quic_without_fallback",  # a QUIC attempt (UDP/443, dropped) never followed by TCP to that host
    "body_truncated",  # a body kept only up to the capture's max_body_bytes / max_stream_bytes
    "decode_limit",  # analysis stopped at a bound (output cut, budget, nesting, too many values)
    "ca_not_installed",  # the run's CA is not trusted by the handset, and TLS went unread
    "identity_unread",  # an identifier kind the handset should have could not be read
    "identity_implausible",  # a value read fails its kind's plausibility check
    "handset_error",  # a handset's run ended on an error: its window was not fully observed
]

#: Gaps about one host's traffic that a policy rule may accept by name (`accept_blind`).
BLIND_KINDS = frozenset({"tls_undecrypted", "unproxied_connection", "body_truncated", "decode_limit"})


@dataclass(frozen=True, slots=True)
class CoverageGap:
    """Something the capture could not see; `host` set when it concerns one host."""

    kind: GapKind
    detail: str
    host: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, "host": self.host, "source": self.source}
