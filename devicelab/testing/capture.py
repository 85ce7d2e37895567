"""pytest side of the capture: the `capture` fixture and its Allure evidence.

    @pytest.mark.capture(sinkhole=["zzhc.vnet.cn"])      # optional: mode=, sinkhole=[host globs]
    def test_first_boot(capture, fresh_handset): ...
        flows = capture.flows()

`capture` starts the capture for the leased `handset` (proxy + CA + proxy setting + canary),
yields a HandsetCapture, and always stops and tears down; the evidence log, the HAR export and a
summary are attached to Allure. The private key of the run's CA is never attached.
Labs feed it through two overridable fixtures: `capture_settings` (the inventory's `proxy:`
section) and `capture_upstream` (a virtual lab's hosts map and root CA).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import allure
import pytest

from devicelab.analysis.report import to_text
from devicelab.analysis.scan import ScanReport
from devicelab.capture.config import CaptureConfig, HostRule
from devicelab.capture.session import HandsetCapture
from devicelab.errors import ConfigError
from devicelab.handset import Handset
from devicelab.lab.lab import Lab
from devicelab.model.inventory import ProxySpec, UpstreamRouting
from devicelab.model.secret import redact
from devicelab.testing.session_report import TestVerdict, evidence_dir, session_report

MARKER = "capture(mode=, sinkhole=[host globs]): how the `capture` fixture captures this test"
#: mitmproxy 11.0 calls pyOpenSSL 24.3 APIs that warn on every TLS handshake. Warning filters are
#: process-wide, so `filterwarnings = error` would turn each interception into a failed handshake.
#: Evidence attachments hold what the handset sent, identifiers included: their names say so.
RAW = "[raw evidence: holds identifiers]"
WARNING_FILTERS = ("ignore:Passing pyOpenSSL:DeprecationWarning",)


def configure(config: pytest.Config) -> None:
    """For the plugin's pytest_configure: the `capture` marker and the filters the proxy needs."""
    config.addinivalue_line("markers", MARKER)
    for line in WARNING_FILTERS:
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(scope="session")
def capture_settings(lab: Lab) -> ProxySpec:
    """The lab's `proxy:` section (loopback, regular mode, unless the inventory says otherwise)."""
    spec = getattr(lab.inventory, "proxy", None)
    return spec if isinstance(spec, ProxySpec) else ProxySpec()


@pytest.fixture(scope="session")
def capture_upstream(lab: Lab) -> UpstreamRouting:
    """The lab's own servers, as its provider declares them (none: real DNS)."""
    return lab.upstream


def capture_config(request: pytest.FixtureRequest, spec: ProxySpec, upstream: UpstreamRouting,
                   label: str) -> CaptureConfig:
    """The CaptureConfig for one test: the lab's settings plus the test's `capture` marker."""
    options: dict[str, object] = {}
    for marker in reversed(list(request.node.iter_markers("capture"))):
        options.update(marker.kwargs)
    unknown = set(options) - {"mode", "sinkhole"}
    if unknown:
        raise ConfigError(request.node.nodeid, "capture marker", f"unknown option(s): {', '.join(sorted(unknown))}")
    sinkhole = options.get("sinkhole")
    if sinkhole is not None and not isinstance(sinkhole, HostRule):
        if isinstance(sinkhole, str) or not isinstance(sinkhole, list | tuple):
            raise ConfigError(request.node.nodeid, "capture marker: sinkhole", "expected a list of host globs")
        sinkhole = HostRule(tuple(str(p) for p in sinkhole))
    mode = options.get("mode")
    return CaptureConfig.for_lab(spec, upstream, label=label, sinkhole=sinkhole,
                                 mode=str(mode) if mode else None)  # type: ignore[arg-type]  # checked by check()


@pytest.fixture
def capture(request: pytest.FixtureRequest, handset: Handset, capture_settings: ProxySpec,
            capture_upstream: UpstreamRouting, tmp_path: Path) -> Iterator[HandsetCapture]:
    """The traffic of the leased handset, captured for this test (canary checked before it runs).
    Judged in the test, its evidence and verdict are attached to the test itself, and kept under
    the run's evidence folder (--devicelab-out) even without --alluredir."""
    config = capture_config(request, capture_settings, capture_upstream, handset.serial)
    session = HandsetCapture(handset, tmp_path / "capture", config, canary_timeout=capture_settings.canary_timeout,
                             sample_interval=capture_settings.sample_interval, shell_timeout=handset.timeouts.shell)
    session.on_judged = lambda report: _judged(request, handset, session, report)
    try:
        with allure.step(f"start capture ({config.mode})"):
            session.start()
        yield session
    finally:
        try:
            with allure.step("stop capture"):
                session.stop()
        finally:
            if session.judged is None:  # never judged: the evidence still goes with the test's teardown
                attach_evidence(session)


def _judged(request: pytest.FixtureRequest, handset: Handset, session: HandsetCapture, report: ScanReport) -> None:
    """The verdict is in (inside the test body): attach it and the evidence to the test, and keep them."""
    verdict = TestVerdict.of(request.node.nodeid, handset, report)
    session_report(request.config).verdicts.append(verdict)
    attach_evidence(session)
    allure.attach(to_text(report), "findings (identifiers redacted)", allure.attachment_type.TEXT)
    allure.attach(json.dumps(asdict(verdict), indent=2), "privacy verdict", allure.attachment_type.JSON)
    keep = evidence_dir(request.config) / _safe(request.node.nodeid)
    keep.mkdir(parents=True, exist_ok=True)
    for path in (session.capture.evidence_path, session.capture.har_path):
        if path.exists():
            shutil.copy2(path, keep / path.name)
    (keep / "verdict.json").write_text(json.dumps(asdict(verdict), indent=2) + "\n")
    (keep / "findings.txt").write_text(to_text(report) + "\n")


def _safe(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:120]


def attach_evidence(session: HandsetCapture) -> None:
    """The evidence log, its HAR export and a summary; never the CA key or the WireGuard keys."""
    capture = session.capture
    if capture.evidence_path.exists():
        allure.attach.file(str(capture.evidence_path), f"capture evidence (JSON Lines) {RAW}",  # type: ignore[no-untyped-call]
                           allure.attachment_type.TEXT, extension="jsonl")
    if capture.har_path.exists():
        allure.attach.file(str(capture.har_path), f"capture (HAR export) {RAW}",  # type: ignore[no-untyped-call]
                           allure.attachment_type.JSON, extension="har")
    allure.attach(summary(session), "capture summary", allure.attachment_type.TEXT)


def summary(session: HandsetCapture) -> str:
    """A few lines a QA engineer reads first: canary, CA, flows, gaps."""
    lines = [f"handset: {redact(session.handset.serial)}", f"mode: {session.config.mode}",
             f"evidence: {session.evidence_path}"]
    if session.canary is not None:
        canary = session.canary
        lines.append(f"canary: {'ok' if canary.ok else 'FAILED'} in {canary.seconds:.1f} s {canary.detail}".rstrip())
    if session.ca_install is not None:
        lines.append(f"CA: {'installed' if session.ca_install.installed else 'not installed'} {session.ca_install.note}"
                     .rstrip())
    try:
        read = session.read()
    except ConfigError as exc:
        return "\n".join([*lines, f"evidence unreadable: {exc}"])
    lines.append(f"flows: {len(read.flows)}" + (f"  [{read.capture.error}]" if read.capture.error else ""))
    lines += [f"gap: {gap.kind}: {gap.detail}" for gap in session.gaps()]
    lines += [f"note: {note}" for note in read.notes]
    return "\n".join(lines)
