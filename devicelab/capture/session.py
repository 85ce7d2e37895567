"""`HandsetCapture`: one handset's traffic captured end to end, torn down on every exit path.

start: the proxy (the lab's own CA where the build bakes it, else a fresh one) -> that CA into the
handset's system store (unless baked) -> the proxy setting ->
the socket-table sampler -> the canary. stop: sampler, proxy setting cleared, CA removed, proxy
stopped — each step tried even when an earlier one failed. What could not be seen (CA refused,
canary failed, sockets that bypassed the proxy) ends up as coverage gaps for the verdict.

Mode `gateway`: `start_network()` (before the flash) starts the proxy and the lab gateway and
plugs the handset in; nothing is set on the handset, and no socket sampler runs (the gateway
records every packet). `start()` then only installs the CA where adb can. At stop the gateway's
connection table is reconciled with the flows and written into the evidence log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from devicelab.analysis.scan import ScanReport, scan
from devicelab.capture.canary import CanaryResult
from devicelab.capture.config import CaptureConfig
from devicelab.capture.coverage import ProxyView
from devicelab.capture.device_setup import CaInstall, DeviceSetup, HandsetLike, baked_lab_ca
from devicelab.capture.evidence import EvidenceRead, named_dns_gaps
from devicelab.capture.gateway.handset_gateway import GatewayPlan, HandsetGateway
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
        self.gateway_plan = GatewayPlan.of(config) if config.mode == "gateway" else None
        if self.gateway_plan is not None:
            config = replace(config, upstream_hosts={**config.upstream_hosts, **self.gateway_plan.routes})
        self.handset = handset
        self.gateway: HandsetGateway | None = None
        self._network_started = False
        self._signing_with_lab_ca = False  # the proxy signs with the lab's own CA (a lab build's)
        self.capture = Capture(workdir, config if config.label else _labelled(config, handset.serial))
        self.canary_timeout = canary_timeout
        self.sample_interval = sample_interval
        self.setup = DeviceSetup(handset, timeout=shell_timeout)
        self.sampler: SocketSampler | None = None
        self.ca_install: CaInstall | None = None
        self.canary: CanaryResult | None = None
        self._started = False
        self._last_read: EvidenceRead | None = None  # the stopped capture's log, read once
        #: the caller runs the canary itself (`run_canary`), e.g. once the handset has a network
        self.defer_canary = defer_canary
        #: the verdict on this capture, once a test has asked for one (devicelab.testing.assertions)
        self.judged: ScanReport | None = None
        #: told of the verdict as soon as it is made (the pytest fixture attaches the evidence to the test)
        self.on_judged: Callable[[ScanReport], None] | None = None
        #: with `judge(before=...)`: the flows sent before that time (an earlier build's), judged apart
        self.judged_before: ScanReport | None = None

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
        self._last_read = None
        try:
            self._start()
        except BaseException:
            self._stop_quietly()
            raise
        return self

    def start_network(self, *, lab_ca: bool = False) -> HandsetCapture:
        """The proxy, and in gateway mode the gateway with the handset plugged in: needs no adb, so it
        can run before the flash and see the whole first boot."""
        if self._network_started:
            return self
        self._started = self._network_started = True
        self._last_read = None
        self._signing_with_lab_ca = lab_ca
        try:
            capture = self.capture.start(lab_ca=lab_ca)
            if self.gateway_plan is not None:
                self.gateway = HandsetGateway(self.capture.workdir / "gateway", self.handset, self.gateway_plan,
                                              proxy=capture.address).start()
                capture.note(f"gateway: the handset is behind the lab's gateway ({self.gateway.link}); "
                             "no proxy setting, every packet recorded")
        except BaseException:
            self._stop_quietly()
            raise
        return self

    def _start(self) -> None:
        # a lab build carries the lab's own CA in its system store: sign with it, install nothing
        baked, foreign = baked_lab_ca(self.handset, timeout=self.setup.timeout)
        if self._network_started and baked != self._signing_with_lab_ca:
            # started before the handset could be asked (the gateway, from power-on), on what the build
            # file says; the handset disagrees: its own store decides what is read (the gaps say so)
            foreign = foreign or ("the build names the lab CA but the handset does not hold it" if not baked else
                                  "the capture started with the run's own CA: the baked lab CA is not used")
            baked = self._signing_with_lab_ca and baked
        self.start_network(lab_ca=baked)
        capture = self.capture
        assert capture.ca is not None
        if foreign:
            capture.note(foreign)
        if baked:
            self.ca_install = CaInstall(True, note="the lab's own CA is baked into the system store (checked)")
        else:
            self.ca_install = self.setup.install_ca(capture.ca)
        if self.ca_install.note:
            capture.note(self.ca_install.note)
        if self.ca_install.overlays:
            # a tmpfs overlay does not survive a reboot (dm-verity /system): put the CA back after each
            # one; test doubles without boot hooks never reboot
            hooks: list[Callable[[], None]] | None = getattr(self.handset, "after_boot", None)
            if hooks is not None:
                hooks.append(self._reinstall_ca)
        # Without the CA, TLS stays closed: each such connection is judged by its host (undecrypted TLS
        # to a host the policy does not approve makes the run inconclusive), so this is a note, not a gap.
        host, port = capture.dial_address
        if self.config.mode == "gateway":
            if not self.defer_canary:
                self.run_canary()
            return  # the gateway sees every packet: no proxy setting, no socket sampler
        if self.config.mode == "regular":
            self.setup.set_proxy(host, port, reverse=self.config.adb_reverse)
            if self.setup.reversed_port is not None:
                self._hook("after_adb", self._restore_reverse)  # the rule died with the link: back at once
                self._hook("after_boot", self._restore_reverse)  # and after the CA's `adb root` restarted adbd
        else:
            capture.note(f"wireguard: the handset's WireGuard app must use the client config for {host}:{port}")
        view = ProxyView(proxy=(host, port), tunnel_ip=CLIENT_ADDRESS if self.config.mode == "wireguard" else None)
        self.sampler = SocketSampler(self.handset, _LogProxy(capture), view, interval=self.sample_interval)
        self.sampler.start()
        if self.config.adb_reverse:
            # the proxy's peer is the adb server: its port is no socket of the handset, and matching
            # it against the handset's socket table would name a wrong app (or, by chance, a right one)
            capture.note("adb reverse: every connection comes from the adb server, so flows are not attributed "
                         "to apps (the handset's socket table still lists who dialled the proxy)")
        else:
            capture.set_app_resolver(self.sampler.resolve_app)
        if not self.defer_canary:
            self.run_canary()

    def _hook(self, name: str, hook: Callable[[], None]) -> None:
        hooks: list[Callable[[], None]] | None = getattr(self.handset, name, None)
        if hooks is not None:  # test doubles without boot hooks never reboot
            hooks.append(hook)

    def _restore_reverse(self) -> None:
        try:
            self.setup.restore_reverse()
        except DevicelabError as exc:
            self.capture.note(f"adb reverse not restored after adb came back: {exc}")

    def _reinstall_ca(self) -> None:
        """After a reboot: the overlay and the CA on it are gone; install them again (a note either way)."""
        install, ca = self.ca_install, self.capture.ca
        if install is None or not install.installed or ca is None:
            return
        try:
            if self.handset.shell(" && ".join(f"[ -e {f} ]" for f in install.files), timeout=self.setup.timeout).ok:
                return
            self.setup.ca = None  # the reboot took the overlay with it: nothing is left to undo
            self.ca_install = self.setup.install_ca(ca)
            self.capture.note(f"CA reinstalled after a reboot: {'ok' if self.ca_install.installed else 'failed'}"
                              + (f" ({self.ca_install.note})" if self.ca_install.note else ""))
        except DevicelabError as exc:
            self.capture.note(f"CA not reinstalled after a reboot: {exc}")

    def run_canary(self) -> CanaryResult:
        """Prove the handset's traffic reaches the capture (and is decrypted, where the CA went in)."""
        assert self.ca_install is not None, "start the capture first"
        self.canary = self.capture.canary.run(self.handset, self.canary_timeout, tls=self.ca_install.installed)
        self.capture.record(self.canary.to_record())
        if not self.canary.ok:
            log.warning("[%s] canary failed: %s", self.handset.serial, self.canary.detail)
        return self.canary

    def no_canary(self, why: str) -> CanaryResult:
        """No canary can run (the handset cannot be asked to fetch it): recorded as a failed one,
        a counted gap, so the run never passes on a capture nobody proved."""
        self.canary = CanaryResult(False, "", "", 0.0, detail=f"no canary: {why}")
        self.capture.record(self.canary.to_record())
        return self.canary

    def stop(self) -> None:
        """Tear everything down; the first failure is raised after every step was tried."""
        if not self._started:
            return
        self._started = self._network_started = False
        for name in ("after_boot", "after_adb"):
            hooks: list[Callable[[], None]] | None = getattr(self.handset, name, None)
            for hook in (self._reinstall_ca, self._restore_reverse):
                while hooks is not None and hook in hooks:
                    hooks.remove(hook)
        errors: list[DevicelabError] = []
        if self.gateway is not None:
            try:
                self.gateway.finish(self.capture)
            except DevicelabError as exc:
                errors.append(exc)
            except OSError as exc:  # the namespaces are gone whatever happened: the evidence says what is missing
                errors.append(CaptureError(f"the gateway did not stop cleanly: {exc}"))
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
        self._last_read = None  # records went in while stopping: the log is read anew from here
        if errors:
            raise errors[0]

    def _stop_quietly(self) -> None:
        try:
            self.stop()
        except DevicelabError as exc:
            log.error("[%s] cleanup after a failed start: %s", self.handset.serial, exc)

    # -- what the test reads -----------------------------------------------------------------------
    def read(self) -> EvidenceRead:
        """The evidence log, read; once the capture stopped the log no longer changes, so it is read
        once for the judge, the gaps, the flows and the summary alike."""
        if self._started:
            return self.capture.read()
        if self._last_read is None:
            self._last_read = self.capture.read()
        return self._last_read

    def flows(self) -> tuple[Flow, ...]:
        return self.read().flows

    def gaps(self, read: EvidenceRead | None = None) -> tuple[CoverageGap, ...]:
        """What this capture could not see, beyond what the analysis derives from the flows."""
        read = read or self.read()
        names = self.config.upstream_names
        gaps = [replace(g, host=names[g.host]) if g.kind == "unproxied_connection" and g.host in names else g
                for g in read.gaps]
        gaps += named_dns_gaps(read, names)
        if self.capture.log_errors:
            gaps.append(CoverageGap("capture_incomplete", f"{self.capture.log_errors} evidence records could not be "
                                    "written", source=str(self.evidence_path)))
        return tuple(gaps)

    def judge(self, identity: Identity, policy: Policy, *, before: float | None = None) -> ScanReport:
        """Stop the capture (the evidence is complete and flushed), read its log once, and judge
        everything it saw against `identity` and `policy`. Kept as `judged` for the run's reports.

        `before` (host time, an update's start): flows sent earlier are an earlier build's, judged
        apart into `judged_before`; the coverage gaps all stay with the candidate (never kinder)."""
        self.stop()
        read = self.read()
        # what the handset's identity could not give (unread or implausible kinds) limits the search too
        unread = tuple(getattr(self.handset, "identity_gaps", ()))
        capture = read.capture
        if before is not None:
            # what the earlier build sent is reported apart; a flow without a time stays the candidate's
            earlier = tuple(f for f in capture.flows if f.timestamp is not None and f.timestamp < before)
            kept = tuple(f for f in capture.flows if f.timestamp is None or f.timestamp >= before)
            self.judged_before = scan([replace(capture, flows=earlier, error="")], identity, policy)
            capture = replace(capture, flows=kept)
        self.judged = scan([capture], identity, policy, extra_gaps=(*self.gaps(read), *unread))
        if self.on_judged is not None:
            self.on_judged(self.judged)
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
