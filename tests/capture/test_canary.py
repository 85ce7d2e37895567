"""The canary proves decryption: driven by a client we control, through the real proxy."""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devicelab.adb import ShellResult
from devicelab.capture import Capture
from tests.capture.helpers import ThrowawayPKI, eventually, get_via_proxy, https_via_proxy


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[Capture]:
    with Capture(tmp_path / "capture") as running:
        yield running


class Browser:
    """`am start -d URL` as a phone's browser: fetches the URL through the proxy, trusting `cafile`."""

    def __init__(self, proxy: tuple[str, int], cafile: Path, exit_code: int = 0) -> None:
        self.proxy, self.cafile, self.exit_code = proxy, cafile, exit_code
        self.threads: list[threading.Thread] = []

    def shell(self, command: str, *, timeout: float | None = None, check: bool = False) -> ShellResult:
        if self.exit_code:
            return ShellResult(command, "", "Error: Activity not started, unable to resolve Intent", self.exit_code)
        if not command.startswith("am start"):
            return ShellResult(command, "", "", 0)  # e.g. the BACK key that leaves the browser
        url = urlsplit(shlex.split(command)[-1])
        thread = threading.Thread(target=self._fetch, args=(url.hostname or "", url.path), daemon=True)
        thread.start()
        self.threads.append(thread)
        return ShellResult(command, "Starting: Intent { act=android.intent.action.VIEW }\n", "", 0)

    def _fetch(self, host: str, path: str) -> None:
        with contextlib.suppress(OSError):  # a browser that does not trust the CA just fails
            https_via_proxy(self.proxy, host, path, self.cafile, timeout=5)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(10)


def test_decrypted_request_with_the_token_wakes_the_waiter(capture: Capture) -> None:
    assert capture.ca is not None
    token = capture.canary.new_token()
    status, body = https_via_proxy(capture.address, "canary.devicelab.test", f"/{token}", capture.ca.cert_file)
    assert (status, body) == (200, f"devicelab canary {token}\n".encode())
    assert capture.canary.wait(token, 1.0)


def test_wait_is_bounded_and_plain_http_proves_nothing(capture: Capture) -> None:
    token = capture.canary.new_token()
    get_via_proxy(capture.address, "canary.devicelab.test", f"/{token}")
    start = time.monotonic()
    assert not capture.canary.wait(token, 0.3)
    assert 0.25 < time.monotonic() - start < 2.0


def test_a_silent_handset_fails_after_the_timeout(capture: Capture) -> None:
    class Silent:
        def shell(self, command: str, *, timeout: float | None = None, check: bool = False) -> ShellResult:
            return ShellResult(command, "Starting: Intent { }\n", "", 0)  # the browser never loads the page

    result = capture.canary.run(Silent(), timeout=0.3)
    assert not result.ok
    assert "no decrypted request for the canary within 0 s" in result.detail


def test_run_opens_the_url_on_the_handset_and_records_ok(capture: Capture) -> None:
    assert capture.ca is not None
    browser = Browser(capture.address, capture.ca.cert_file)
    result = capture.canary.run(browser, timeout=5)
    browser.join()
    assert result.ok, result.detail
    assert result.url.startswith("https://canary.devicelab.test/")
    assert result.token in result.url
    (flow,) = capture.read(include_canary=True).flows
    assert (flow.host, flow.tls, flow.status) == ("canary.devicelab.test", True, 200)


def test_run_fails_when_the_handset_does_not_trust_the_ca(capture: Capture, pki: ThrowawayPKI) -> None:
    browser = Browser(capture.address, pki.ca_file)  # trusts some other CA, not the run's
    result = capture.canary.run(browser, timeout=20)
    browser.join()
    assert not result.ok
    assert "refused the proxy's certificate" in result.detail
    assert result.seconds < 5  # the refusal ends the wait, no need to sit out the timeout
    tls_failure = eventually(lambda: next(iter(capture.read(include_canary=True).flows), None))
    assert (tls_failure.undecrypted_tls, tls_failure.host) == (True, "canary.devicelab.test")
    assert capture.read().flows == ()  # the harness's own traffic stays out of the analysis


def test_run_fails_when_am_start_fails(capture: Capture) -> None:
    assert capture.ca is not None
    result = capture.canary.run(Browser(capture.address, capture.ca.cert_file, exit_code=1), timeout=5)
    assert not result.ok
    assert "`am start` failed (exit 1)" in result.detail
    assert result.seconds < 1.0
