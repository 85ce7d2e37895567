"""The canary: before the capture window opens, prove that the proxy decrypts the handset's HTTPS.

The harness opens `https://<canary host>/<token>` on the handset (`am start -a VIEW -d URL`, what
opens the browser on a real phone); the addon answers it locally and wakes the waiter when the
decrypted request carrying the token arrives. No canary, no confidence: a failed canary makes the
verdict inconclusive.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from mitmproxy import http, tls

from devicelab.adb import ShellResult
from devicelab.errors import DevicelabError

CANARY = "devicelab.canary"
#: Chrome's flags file, read by Chrome when it is the debug app: no first run, no background traffic
CHROME_COMMAND_LINE = "/data/local/tmp/chrome-command-line"
CHROME_FLAGS = ("--disable-fre --no-default-browser-check --no-first-run --disable-background-networking "
                "--disable-component-update --disable-sync --disable-domain-reliability")
CHROME_PREPARE = (f"pm path com.android.chrome >/dev/null 2>&1 && echo '_ {CHROME_FLAGS}' > {CHROME_COMMAND_LINE} "
                  "&& am set-debug-app --persistent com.android.chrome")
CHROME_RESTORE = f"pm path com.android.chrome >/dev/null 2>&1 && am clear-debug-app; rm -f {CHROME_COMMAND_LINE}"


class Shell(Protocol):
    def shell(self, command: str, *, timeout: float | None = None, check: bool = False) -> ShellResult: ...


@dataclass(frozen=True)
class CanaryResult:
    """Whether the handset's decrypted canary request reached the proxy, and how long it took."""

    ok: bool
    url: str
    token: str
    seconds: float
    detail: str = ""

    def to_record(self) -> dict[str, object]:
        return {"kind": "canary", "ts": time.time(), "ok": self.ok, "url": self.url, "token": self.token,
                "seconds": round(self.seconds, 3), "detail": self.detail}


class Canary:
    """The addon answering the canary host, and the bounded wait for a token."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._seen: set[str] = set()  # tokens that arrived decrypted
        self._seen_plain: set[str] = set()  # tokens that arrived over plain HTTP
        self._refusals = 0  # TLS handshakes to the canary host the handset refused (CA not trusted)
        self._cond = threading.Condition()

    @staticmethod
    def new_token() -> str:
        return secrets.token_hex(16)

    def url(self, token: str, *, tls: bool = True) -> str:
        return f"{'https' if tls else 'http'}://{self.host}/{token}"

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.request.pretty_host.lower() != self.host:
            return
        token = flow.request.path.lstrip("/").split("?")[0]
        decrypted = flow.request.scheme == "https"
        flow.metadata[CANARY] = True
        flow.response = http.Response.make(200, f"devicelab canary {token}\n".encode(), {"content-type": "text/plain"})
        with self._cond:  # plain HTTP proves the path through the proxy, not decryption
            (self._seen if decrypted else self._seen_plain).add(token)
            self._cond.notify_all()

    def tls_failed_client(self, data: tls.TlsData) -> None:
        if (data.context.client.sni or "").lower() == self.host:
            with self._cond:
                self._refusals += 1
                self._cond.notify_all()

    def wait(self, token: str, timeout: float, *, refusals_before: int | None = None, tls: bool = True) -> bool:
        """True once the request for `token` arrived (decrypted, when `tls`); False after `timeout` seconds,
        or as soon as the handset refuses the proxy's certificate for the canary host (when `refusals_before`
        is given)."""
        seen = self._seen if tls else self._seen_plain

        def done() -> bool:
            return token in seen or (refusals_before is not None and self._refusals > refusals_before)

        with self._cond:
            self._cond.wait_for(done, timeout=timeout)
            return token in seen

    def run(self, handset: Shell, timeout: float, *, tls: bool = True) -> CanaryResult:
        """Make the handset fetch a fresh canary URL and wait (bounded) for it to arrive — decrypted when
        `tls`; over plain HTTP it proves only that the handset's traffic reaches the capture (a build
        that takes no lab CA cannot have its TLS opened, and the canary must not pretend otherwise)."""
        token = self.new_token()
        url = self.url(token, tls=tls)
        refusals = self._refusals
        start = time.monotonic()
        command = f"am start -a android.intent.action.VIEW -d {shlex.quote(url)}"
        try:
            # Chrome on a fresh phone shows its first run before any page, and phones home while it
            # does: as the debug app it reads flags that skip both (no root needed; undone below)
            handset.shell(CHROME_PREPARE, timeout=min(timeout, 30.0))
            result = handset.shell(command, timeout=min(timeout, 30.0))
        except DevicelabError as exc:
            return CanaryResult(False, url, token, time.monotonic() - start, f"could not open the URL: {exc}")
        if not result.ok or "Error" in result.stdout:
            detail = (result.stderr or result.stdout).strip()[:300]
            return CanaryResult(False, url, token, time.monotonic() - start,
                                f"`am start` failed (exit {result.exit_code}): {detail}")
        left = max(timeout - (time.monotonic() - start), 0.0)
        ok = self.wait(token, left, refusals_before=refusals, tls=tls)
        with contextlib.suppress(DevicelabError):
            handset.shell("input keyevent KEYCODE_BACK", timeout=min(timeout, 30.0))  # leave the browser
            handset.shell(CHROME_RESTORE, timeout=min(timeout, 30.0))
        if ok:
            detail = ""
        elif self._refusals > refusals:
            detail = "the handset refused the proxy's certificate for the canary host: the CA is not trusted"
        else:
            detail = f"no {'decrypted ' if tls else ''}request for the canary within {timeout:.0f} s"
        return CanaryResult(ok, url, token, time.monotonic() - start, detail)
