"""Findings: which identifier left the handset, to which host, where in the flow, and how it was hidden.

Findings are product results, not errors. Reports show identifiers redacted (`redact`): the
last few characters and a short hash, enough to tell two IMEIs apart, not enough to leak one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from devicelab.analysis.decoders import render
from devicelab.model.secret import redact


def redact_url(url: str, identifier: str) -> str:
    """The URL for a report: the query string elided, the identifier in the path redacted."""
    base, query = url.split("?", 1) if "?" in url else (url, "")
    base = re.sub(re.escape(identifier), redact(identifier), base, flags=re.IGNORECASE) if identifier else base
    return base + ("?…" if query else "")


@dataclass(frozen=True, slots=True)
class Finding:
    """One identifier of the handset seen in one place of one flow."""

    kind: str  # identifier kind (identity-file key) or "location"
    identifier: str  # the identity's value; never printed, see `redacted`
    host: str
    url: str
    where: tuple[str, ...]  # e.g. ("body", "base64", "json:SIM1ICCID")
    decoders: tuple[str, ...]  # decoding steps from the wire to the identifier, e.g. ("base64", "json")
    variant: str  # how the identifier was spelled, e.g. "no-separators-upper"
    tls: bool
    source: str
    flow_index: int
    flow_id: str
    method: str = ""
    app: str | None = None
    detail: str = ""

    @property
    def location(self) -> str:
        return render(self.where)

    @property
    def redacted(self) -> str:
        return redact(self.identifier)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "identifier": self.redacted,
            "host": self.host,
            "url": redact_url(self.url, self.identifier),
            "method": self.method,
            "location": self.location,
            "decoders": list(self.decoders),
            "variant": self.variant,
            "tls": self.tls,
            "source": self.source,
            "flow_index": self.flow_index,
            "flow_id": self.flow_id,
            "app": self.app,
            **({"detail": self.detail} if self.detail else {}),
        }


def prune(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per identifier and place: drop a place when a more specific one inside it found the same.

    The raw body and the JSON value inside it both contain a plain IMEI; the JSON path says more.
    Among findings at the same place, the one with the shortest decoder chain stays.
    """
    best: dict[tuple[str, str, tuple[str, ...]], Finding] = {}
    for finding in findings:
        key = (finding.kind, finding.identifier, finding.where)
        current = best.get(key)
        if current is None or len(finding.decoders) < len(current.decoders):
            best[key] = finding
    ancestors: set[tuple[str, str, tuple[str, ...]]] = set()
    for kind, identifier, where in best:
        ancestors.update((kind, identifier, where[:n]) for n in range(1, len(where)))
    return [f for key, f in best.items() if key not in ancestors]
