"""Capture files of every kind, read and judged: devicelab's evidence logs, HAR and mitmproxy files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from devicelab.analysis.readers import read_capture
from devicelab.analysis.scan import Analyzer, ScanReport, scan
from devicelab.capture.evidence import is_evidence, read_evidence
from devicelab.errors import ConfigError
from devicelab.model.identity import Identity
from devicelab.model.policy import Policy
from devicelab.model.traffic import CaptureRead, CoverageGap


def read_any(path: Path) -> CaptureRead:
    """An evidence log, a HAR file or a mitmproxy flow file, whichever it is (ConfigError for bad input)."""
    try:
        with path.open("rb") as fo:
            head = fo.read(64)
    except FileNotFoundError:
        raise ConfigError(str(path), "", "capture file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read capture: {exc.strerror}") from None
    return read_evidence(path).capture if is_evidence(head) else read_capture(path)


def scan_files(paths: Sequence[Path], identity: Identity, policy: Policy, extra_gaps: Iterable[CoverageGap] = (),
               analyzer: Analyzer | None = None) -> ScanReport:
    """Read every capture file, analyse every flow, and judge the lot (ConfigError for bad input)."""
    return scan((read_any(path) for path in paths), identity, policy, extra_gaps, analyzer)
