"""What the virtual internet really answered: one JSON line per answered request, the ground truth
`make chaos` holds a run's evidence and verdict against.

    {"ts": 1764438572.1, "host": "zzhc.vnet.cn", "server": "zzhc.vnet.cn", "method": "POST",
     "path": "/register?x=1", "status": 200, "tls": false, "conn": 7, "via": "proxy", "handset": ""}

`via` is "handset" when the request came straight from a virtual handset's own socket (its name in
`handset`), else "proxy": any other client, in a gate run the capture proxy. `conn` numbers the
connections of one lab: requests with the same number came over one connection. Each line is
flushed as it is written, so a lab that is killed leaves every answered request but the last
line's tail; the reader skips a torn line.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from devicelab.virtual.net.http1 import ReceivedRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answered:
    """One line of the log, read back."""

    ts: float
    host: str
    server: str
    method: str
    path: str
    status: int
    tls: bool
    conn: int
    via: str
    handset: str


def request_host(request: ReceivedRequest) -> str:
    """The name the client asked for (Host header, else SNI, else the responder's name), as a capture shows it."""
    authority = request.header("host") or request.sni or request.host
    if authority.startswith("["):  # [v6]:port
        return authority[1:].partition("]")[0].lower()
    return authority.rpartition(":")[0].lower() if authority.count(":") == 1 else authority.lower()


def request_path(request: ReceivedRequest) -> str:
    """The target as a capture records it: path and query (an absolute-form target reduced)."""
    target = request.target
    if "://" in target:
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    return target


class ReceivedLog:
    """Appends answered requests to `path` (created with its folder); `close()` when the lab stops."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.errors = 0

    def write(self, request: ReceivedRequest, status: int) -> None:
        self._line({"ts": request.time, "host": request_host(request), "server": request.host,
                    "method": request.method, "path": request_path(request), "status": status, "tls": request.tls,
                    "conn": request.connection, "via": "handset" if request.origin else "proxy",
                    "handset": request.origin})

    def write_datagram(self, ts: float, host: str, server: str, protocol: str, client: str) -> None:
        """A UDP exchange the internet answered behind a lab gateway (NTP): `via` "udp"."""
        self._line({"ts": ts, "host": host, "server": server, "method": protocol, "path": "", "status": 0,
                    "tls": False, "conn": 0, "via": "udp", "handset": client})

    def _line(self, line: dict[str, Any]) -> None:
        text = json.dumps(line) + "\n"
        try:
            with self._lock:  # the UDP services write from their own threads
                if self._file is None:
                    return
                self._file.write(text)
                self._file.flush()
        except (OSError, ValueError) as exc:  # a full disk must not take the internet down
            self.errors += 1
            log.warning("received log %s: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            file, self._file = self._file, None
        if file is not None:
            file.close()


def read_received(path: Path) -> list[Answered]:
    """The answered requests of a log; a missing file is none, a torn or odd line is skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    found: list[Answered] = []
    for line in text.splitlines():
        try:
            raw: Any = json.loads(line)
            found.append(Answered(float(raw["ts"]), str(raw["host"]), str(raw.get("server", raw["host"])),
                                  str(raw["method"]), str(raw["path"]), int(raw["status"]), bool(raw.get("tls")),
                                  int(raw.get("conn", 0)), str(raw.get("via", "proxy")), str(raw.get("handset", ""))))
        except (ValueError, KeyError, TypeError):
            continue
    return found
