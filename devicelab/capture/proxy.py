"""`Capture`: the traffic capture service — an in-process mitmproxy with the devicelab addons.

    with Capture(workdir, CaptureConfig(sinkhole=HostRule(("zzhc.vnet.cn",)))) as capture:
        ...  # point the handset at capture.dial_address
    capture.read().flows

Captures running at once in one process (a gate watching a rack) share the process's mitmproxy
Master and the run's CA (devicelab.capture.hub), each on its own port with its own addons. The CA
lives in a private folder (mode 0700, the key 0600) that goes when the last capture stops. Each
capture writes its evidence to `workdir/evidence.jsonl` as traffic happens, and exports
`workdir/capture.har` when it stops.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from devicelab.capture import wireguard
from devicelab.capture.ca import RunCA
from devicelab.capture.canary import Canary
from devicelab.capture.config import CaptureConfig
from devicelab.capture.evidence import EvidenceRead, load_records, read_evidence
from devicelab.capture.har import write_har
from devicelab.capture.hub import HUB, Attached
from devicelab.capture.recorder import AppResolver, Recorder
from devicelab.capture.records import EvidenceLog, Record
from devicelab.capture.routing import LabRouting
from devicelab.capture.sinkhole import Sinkhole
from devicelab.errors import CaptureError, DevicelabError

log = logging.getLogger(__name__)


class _ExpectedHandshakeFailures(logging.Filter):
    """A handset that does not trust the run's CA refuses every intercepted handshake: expected on
    user builds, and each one is in the evidence (a tls_failed record, then a gap). Demoted to
    debug, so the terminal and the pytest report show what needs a person's attention."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.getMessage().startswith("Client TLS handshake failed"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("mitmproxy.proxy.server").addFilter(_ExpectedHandshakeFailures())


class Capture:
    """One capture: start() / stop() or a context manager. Not restartable: make a new one."""

    def __init__(self, workdir: Path, config: CaptureConfig | None = None) -> None:
        self.config = (config or CaptureConfig()).check()
        self.workdir = workdir
        self.confdir = workdir / "confdir"
        self.evidence_path = workdir / "evidence.jsonl"
        self.har_path = workdir / "capture.har"
        self.ca: RunCA | None = None
        self.canary = Canary(self.config.canary_host)
        self.sinkhole = Sinkhole(self.config.sinkhole) if self.config.sinkhole is not None else None
        self.recorder: Recorder | None = None
        self._address: tuple[str, int] | None = None
        self.wireguard_keys: wireguard.WireGuardKeys | None = None
        self._log: EvidenceLog | None = None
        self._spec: str | None = None  # our listening mode in the process's proxy
        self._stopped = False

    def __repr__(self) -> str:
        return f"Capture({self.config.mode}, {self._address}, {self.evidence_path})"

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, *, lab_ca: bool = False) -> Capture:
        """Listen; `lab_ca`: sign with the lab's own CA (baked into the handset's system store)
        instead of a fresh one."""
        if self._log is not None:
            raise CaptureError("a Capture runs once: make a new one")
        config = self.config
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaptureError(f"cannot create {self.workdir}: {exc.strerror}") from None
        self._log = EvidenceLog(self.evidence_path)
        # order matters: the canary answers first, then the sinkhole; the recorder sees their decisions
        # in flow.metadata; routing comes last so the evidence keeps the address the handset asked for
        self.recorder = Recorder(self._log, max_body_bytes=config.max_body_bytes,
                                 max_stream_bytes=config.max_stream_bytes)
        addons: list[object] = [self.canary]
        if self.sinkhole is not None:
            addons.append(self.sinkhole)
        addons.append(self.recorder)
        if config.upstream_hosts or config.upstream_only:
            addons.append(LabRouting(config.upstream_hosts, only=config.upstream_only))
        try:
            attached = self._attach(addons, lab_ca=lab_ca)
        except DevicelabError as exc:
            self._abort(str(exc))
            raise
        self._spec, self._address, self.ca = attached.spec, attached.address, attached.ca
        self._log.write_header(ts=time.time(), mode=config.mode, label=config.label,
                               ca_subject_hash=self.ca.subject_hash_old, canary_host=config.canary_host,
                               sinkhole=config.sinkhole.describe() if config.sinkhole else "",
                               routing=sorted(config.upstream_hosts), upstream_only=config.upstream_only)
        self._log.write({"kind": "listening", "ts": time.time(), "listen": list(self._address),
                         "dial": [config.dial_host, self._address[1]],
                         "tunnel_ip": wireguard.CLIENT_ADDRESS if config.mode == "wireguard" else None,
                         "adb_reverse": config.adb_reverse})
        log.info("capture listening on %s:%d (%s)", *self._address, config.mode)
        return self

    def _attach(self, addons: list[object], *, lab_ca: bool = False) -> Attached:
        """Join the process's proxy on a port of our own (free now; a lost race is tried again)."""
        config = self.config
        shared: dict[str, Any] = {"connection_strategy": config.connection_strategy, "onboarding": False}
        if config.upstream_ca is not None:
            shared["ssl_verify_upstream_trusted_ca"] = str(config.upstream_ca)
        host = f"[{config.listen_host}]" if ":" in config.listen_host else config.listen_host
        for attempt in range(3):
            try:
                port = _free_port(config.listen_host, udp=config.mode == "wireguard")
            except OSError as exc:
                raise CaptureError(f"the proxy could not start: cannot listen on {config.listen_host}: "
                                   f"{exc.strerror}") from None
            if config.mode == "wireguard":
                conf = self.confdir / "wireguard.conf"
                if self.wireguard_keys is None:
                    self.confdir.mkdir(parents=True, exist_ok=True, mode=0o700)
                    self.wireguard_keys = wireguard.write_keys(conf)
                spec = f"{wireguard.mode_spec(conf, config.listen_host).rpartition(':')[0]}:{port}"
            else:
                spec = f"regular@{host}:{port}"
            try:
                return HUB.attach(spec, addons, shared, timeout=config.start_timeout, label=config.label,
                                  lab_ca=lab_ca)
            except CaptureError as exc:
                if attempt == 2 or "could not listen" not in str(exc):
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop the proxy, close the log with a stop record, export HAR. Safe to call twice."""
        if self._stopped or self._log is None:
            return
        self._stopped = True
        error = ""
        if self._spec is not None:
            try:
                HUB.detach(self._spec, self.config.stop_timeout)
            except DevicelabError as exc:
                error = str(exc)
        recorder = self.recorder
        self._log.write({"kind": "stop", "ts": time.time(), "requests": recorder.requests if recorder else 0,
                         "responses": recorder.responses if recorder else 0, "log_errors": self._log.errors,
                         "error": error})
        self._log.close()
        try:
            write_har(load_records(self.evidence_path)[0], self.har_path)
        except (DevicelabError, OSError) as exc:
            log.warning("HAR export failed: %s", exc)
        if error:
            raise CaptureError(error)

    def _abort(self, why: str) -> None:
        if self._log is not None:
            self._log.write({"kind": "stop", "ts": time.time(), "error": f"the proxy did not start: {why}"})
            self._log.close()
        self._stopped = True

    # -- what the harness uses -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._spec is not None and not self._stopped

    @property
    def address(self) -> tuple[str, int]:
        """Where the proxy listens (the real port); kept after stop for reports."""
        if self._address is None:
            raise CaptureError("the capture has not started")
        return self._address

    @property
    def dial_address(self) -> tuple[str, int]:
        """The address the handset uses: advertise_host (or listen_host) and the real port."""
        return self.config.dial_host, self.address[1]

    def wireguard_client_config(self) -> str:
        """The handset's WireGuard config (holds the client's private key: do not attach it to reports)."""
        if self.wireguard_keys is None:
            raise CaptureError("not a wireguard capture")
        return wireguard.client_config(self.wireguard_keys, *self.dial_address)

    def set_app_resolver(self, resolve: AppResolver | None) -> None:
        if self.recorder is not None:
            self.recorder.resolve_app = resolve

    def record(self, record: Record) -> None:
        """Append a record of the harness (canary result, note, coverage) to the evidence log."""
        if self._log is None:
            raise CaptureError("the capture is not started")
        self._log.write(record)

    def note(self, text: str) -> None:
        self.record({"kind": "note", "ts": time.time(), "note": text})

    @property
    def log_errors(self) -> int:
        return self._log.errors if self._log is not None else 0

    def read(self, *, include_canary: bool = False) -> EvidenceRead:
        """The evidence so far (while running) or in full (after stop)."""
        return read_evidence(self.evidence_path, live=not self._stopped, include_canary=include_canary)


def _free_port(host: str, *, udp: bool = False) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
