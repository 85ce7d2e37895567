"""Traffic capture: an in-process mitmproxy that writes crash-safe evidence, with the handset set up
to use it (proxy setting, the run's CA), a canary proving decryption, and coverage checks."""

from __future__ import annotations

from devicelab.capture.config import CaptureConfig, HostRule
from devicelab.capture.evidence import EvidenceRead, read_evidence
from devicelab.capture.proxy import Capture

__all__ = ["Capture", "CaptureConfig", "EvidenceRead", "HostRule", "read_evidence"]
