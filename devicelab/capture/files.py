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
    return read_with_gaps(path)[0]


def read_with_gaps(path: Path) -> tuple[CaptureRead, tuple[CoverageGap, ...]]:
    """read_any, and the gaps an evidence log stores beyond its flows (socket table, canary, CA, cuts):
    re-judging a gate's evidence offline must see what the gate saw."""
    try:
        with path.open("rb") as fo:
            head = fo.read(64)
    except FileNotFoundError:
        raise ConfigError(str(path), "", "capture file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read capture: {exc.strerror}") from None
    if is_evidence(head):
        read = read_evidence(path)
        return read.capture, read.gaps
    return read_capture(path), ()


def scan_files(paths: Sequence[Path], identity: Identity, policy: Policy, extra_gaps: Iterable[CoverageGap] = (),
               analyzer: Analyzer | None = None) -> ScanReport:
    """Read every capture file, analyse every flow, and judge the lot (ConfigError for bad input)."""
    reads = [read_with_gaps(path) for path in paths]
    stored = [gap for _, gaps in reads for gap in gaps]
    return scan((capture for capture, _ in reads), identity, policy, [*stored, *extra_gaps], analyzer)
