"""`HandsetCapture`: one handset's traffic captured end to end, torn down on every exit path.

start: the proxy (fresh CA) -> the CA into the handset's system store -> the proxy setting ->
the socket-table sampler -> the canary. stop: sampler, proxy setting cleared, CA removed, proxy
stopped — each step tried even when an earlier one failed. What could not be seen (CA refused,
canary failed, sockets that bypassed the proxy) ends up as coverage gaps for the verdict.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from devicelab.analysis.scan import ScanReport, scan
from devicelab.capture.canary import CanaryResult
from devicelab.capture.config import CaptureConfig
from devicelab.capture.coverage import ProxyView
from devicelab.capture.device_setup import CaInstall, DeviceSetup, HandsetLike
from devicelab.capture.evidence import EvidenceRead
from devicelab.capture.proxy import Capture
from devicelab.capture.records import Record
from devicelab.capture.sampler import SocketSampler
from devicelab.capture.wireguard import CLIENT_ADDRESS
from devicelab.errors import CaptureError, DevicelabError
from devicelab.model.identity import Identity
from devicelab.model.policy import Policy
from devicelab.model.traffic import CoverageGap, Flow

log = logging.getLogger(__name__)


class HandsetCapture:
    """The capture of one handset: `flows()`, `evidence_path`, `coverage`, `canary`, `gaps()`."""

    def __init__(self, handset: HandsetLike, workdir: Path, config: CaptureConfig | None = None, *,
                 canary_timeout: float = 30.0, sample_interval: float = 2.0, shell_timeout: float = 30.0,
                 defer_canary: bool = False) -> None:
        config = config or CaptureConfig()
        self.handset = handset
        self.capture = Capture(workdir, config if config.label else _labelled(config, handset.serial))
        self.canary_timeout = canary_timeout
        self.sample_interval = sample_interval
        self.setup = DeviceSetup(handset, timeout=shell_timeout)
        self.sampler: SocketSampler | None = None
        self.ca_install: CaInstall | None = None
        self.canary: CanaryResult | None = None
        self._started = False
        #: the caller runs the canary itself (`run_canary`), e.g. once the handset has a network
        self.defer_canary = defer_canary
        #: the verdict on this capture, once a test has asked for one (devicelab.testing.assertions)
        self.judged: ScanReport | None = None

    def __enter__(self) -> HandsetCapture:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def evidence_path(self) -> Path:
        return self.capture.evidence_path

    @property
    def config(self) -> CaptureConfig:
        return self.capture.config

    def start(self) -> HandsetCapture:
        self._started = True
        try:
            self._start()
        except BaseException:
            self._stop_quietly()
            raise
        return self

    def _start(self) -> None:
        capture = self.capture.start()
        assert capture.ca is not None
        self.ca_install = self.setup.install_ca(capture.ca)
        if self.ca_install.note:
            capture.note(self.ca_install.note)
        # Without the CA, TLS stays closed: each such connection is judged by its host (undecrypted TLS
        # to a host the policy does not approve makes the run inconclusive), so this is a note, not a gap.
        host, port = capture.dial_address
        if self.config.mode == "regular":
            self.setup.set_proxy(host, port)
        else:
            capture.note(f"wireguard: the handset's WireGuard app must use the client config for {host}:{port}")
        view = ProxyView(proxy=(host, port), tunnel_ip=CLIENT_ADDRESS if self.config.mode == "wireguard" else None)
        self.sampler = SocketSampler(self.handset, _LogProxy(capture), view, interval=self.sample_interval)
        self.sampler.start()
        capture.set_app_resolver(self.sampler.resolve_app)
        if not self.defer_canary:
            self.run_canary()

    def run_canary(self) -> CanaryResult:
        """Prove the handset's traffic reaches the capture (and is decrypted, where the CA went in)."""
        assert self.ca_install is not None, "start the capture first"
        self.canary = self.capture.canary.run(self.handset, self.canary_timeout, tls=self.ca_install.installed)
        self.capture.record(self.canary.to_record())
        if not self.canary.ok:
            log.warning("[%s] canary failed: %s", self.handset.serial, self.canary.detail)
        return self.canary

    def stop(self) -> None:
        """Tear everything down; the first failure is raised after every step was tried."""
        if not self._started:
            return
        self._started = False
        errors: list[DevicelabError] = []
        if self.sampler is not None:
            try:
                self.sampler.stop()
                self.capture.record({"kind": "sampler", "ts": time.time(), "samples": self.sampler.samples,
                                     "failures": self.sampler.failures, "interval": self.sample_interval})
            except DevicelabError as exc:
                errors.append(exc)
            self.capture.set_app_resolver(None)
        try:
            self.setup.teardown()
        except DevicelabError as exc:
            self.capture.note(f"teardown: {exc}")
            errors.append(exc)
        try:
            self.capture.stop()
        except DevicelabError as exc:
            errors.append(exc)
        if errors:
            raise errors[0]

    def _stop_quietly(self) -> None:
        try:
            self.stop()
        except DevicelabError as exc:
            log.error("[%s] cleanup after a failed start: %s", self.handset.serial, exc)

    # -- what the test reads -----------------------------------------------------------------------
    def read(self) -> EvidenceRead:
        return self.capture.read()

    def flows(self) -> tuple[Flow, ...]:
        return self.read().flows

    def gaps(self, read: EvidenceRead | None = None) -> tuple[CoverageGap, ...]:
        """What this capture could not see, beyond what the analysis derives from the flows."""
        read = read or self.read()
        names = self.config.upstream_names
        gaps = [replace(g, host=names[g.host]) if g.kind == "unproxied_connection" and g.host in names else g
                for g in read.gaps]
        if self.capture.log_errors:
            gaps.append(CoverageGap("capture_incomplete", f"{self.capture.log_errors} evidence records could not be "
                                    "written", source=str(self.evidence_path)))
        return tuple(gaps)

    def judge(self, identity: Identity, policy: Policy) -> ScanReport:
        """Stop the capture (the evidence is complete and flushed), read its log once, and judge
        everything it saw against `identity` and `policy`. Kept as `judged` for the run's reports."""
        self.stop()
        read = self.read()
        # what the handset's identity could not give (unread or implausible kinds) limits the search too
        unread = tuple(getattr(self.handset, "identity_gaps", ()))
        self.judged = scan([read.capture], identity, policy, extra_gaps=(*self.gaps(read), *unread))
        return self.judged

    @property
    def coverage(self) -> tuple[str, ...]:
        """Connections that reached the network without the capture (from the handset's socket table)."""
        return self.read().bypasses


def _labelled(config: CaptureConfig, serial: str) -> CaptureConfig:
    return replace(config, label=serial)


class _LogProxy:
    """The capture's log as the sampler sees it (records go through Capture.record)."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture

    def write(self, record: Record) -> bool:
        try:
            self.capture.record(record)
        except CaptureError:
            return False
        return True
