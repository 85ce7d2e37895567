"""`Capture`: the traffic capture service — an in-process mitmproxy with the devicelab addons.

    with Capture(workdir, CaptureConfig(sinkhole=HostRule(("zzhc.vnet.cn",)))) as capture:
        ...  # point the handset at capture.dial_address
    capture.read().flows

Each capture gets a fresh CA and confdir under `workdir/confdir` (mode 0700, the key 0600; never
attach that folder to a report), writes its evidence to `workdir/evidence.jsonl` as traffic
happens, and exports `workdir/capture.har` when it stops.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from devicelab.capture import wireguard
from devicelab.capture.ca import RunCA, create_run_ca
from devicelab.capture.canary import Canary
from devicelab.capture.config import CaptureConfig
from devicelab.capture.evidence import EvidenceRead, load_records, read_evidence
from devicelab.capture.har import write_har
from devicelab.capture.recorder import AppResolver, Recorder
from devicelab.capture.records import EvidenceLog, Record
from devicelab.capture.routing import LabRouting
from devicelab.capture.runner import ProxyThread
from devicelab.capture.sinkhole import Sinkhole
from devicelab.errors import CaptureError, DevicelabError

log = logging.getLogger(__name__)


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
        self._proxy: ProxyThread | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return f"Capture({self.config.mode}, {self._address}, {self.evidence_path})"

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Capture:
        if self._log is not None:
            raise CaptureError("a Capture runs once: make a new one")
        config = self.config
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaptureError(f"cannot create {self.workdir}: {exc.strerror}") from None
        self.ca = create_run_ca(self.confdir, label=config.label)
        self._log = EvidenceLog(self.evidence_path)
        self._log.write_header(ts=time.time(), mode=config.mode, label=config.label,
                               ca_subject_hash=self.ca.subject_hash_old, canary_host=config.canary_host,
                               sinkhole=config.sinkhole.describe() if config.sinkhole else "",
                               routing=sorted(config.upstream_hosts), upstream_only=config.upstream_only)
        self.recorder = Recorder(self._log, max_body_bytes=config.max_body_bytes,
                                 max_stream_bytes=config.max_stream_bytes)
        # order matters: the canary answers first, then the sinkhole; the recorder sees their decisions
        # in flow.metadata; routing comes last so the evidence keeps the address the handset asked for
        addons: list[object] = [self.canary]
        if self.sinkhole is not None:
            addons.append(self.sinkhole)
        addons.append(self.recorder)
        if config.upstream_hosts or config.upstream_only:
            addons.append(LabRouting(config.upstream_hosts, only=config.upstream_only))
        self._proxy = ProxyThread(addons, self._options(), name=f"capture-{config.label or config.mode}")
        try:
            addrs = self._proxy.start(config.start_timeout)
        except DevicelabError:
            self._abort()
            raise
        self._address = addrs[0]
        self._log.write({"kind": "listening", "ts": time.time(), "listen": list(self._address),
                         "dial": [config.dial_host, self._address[1]],
                         "tunnel_ip": wireguard.CLIENT_ADDRESS if config.mode == "wireguard" else None})
        log.info("capture listening on %s:%d (%s)", *self._address, config.mode)
        return self

    def _options(self) -> dict[str, Any]:
        config = self.config
        if config.mode == "wireguard":
            conf = self.confdir / "wireguard.conf"
            self.wireguard_keys = wireguard.write_keys(conf)
            spec = wireguard.mode_spec(conf, config.listen_host)
        else:
            host = f"[{config.listen_host}]" if ":" in config.listen_host else config.listen_host
            spec = f"regular@{host}:0"
        opts: dict[str, Any] = {
            "confdir": str(self.confdir), "mode": [spec], "listen_host": config.listen_host,
            "connection_strategy": config.connection_strategy, "onboarding": False,
        }
        if config.upstream_ca is not None:
            opts["ssl_verify_upstream_trusted_ca"] = str(config.upstream_ca)
        return opts

    def stop(self) -> None:
        """Stop the proxy, close the log with a stop record, export HAR. Safe to call twice."""
        if self._stopped or self._log is None:
            return
        self._stopped = True
        error = ""
        if self._proxy is not None:
            try:
                self._proxy.stop(self.config.stop_timeout)
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

    def _abort(self) -> None:
        if self._log is not None:
            self._log.write({"kind": "stop", "ts": time.time(), "error": "the proxy did not start"})
            self._log.close()
        self._stopped = True

    # -- what the harness uses -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proxy is not None and self._proxy.running and not self._stopped

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

    @property
    def proxy_url(self) -> str:
        host, port = self.dial_address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

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
