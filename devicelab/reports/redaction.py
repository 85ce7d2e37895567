"""Scrubbing report text: every form of the handsets' identifiers replaced by a redacted marker.

`findings.redact` turns one known value into `…7518#1b9f3c`. Report text (URLs, headers, decoded
bodies, logcat lines) can hold any identifier of the handset in any form the analysis searches
for, so a Redactor built from the identities replaces all of them, and positions near the handset:

    {"IMEI1":"490154203237518"}  ->  {"IMEI1":"⟦imei …7518#1b9f3c⟧"}

Markers are plain text (⟦ ⟧ never occur in an identifier); the HTML and Allure writers highlight them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from devicelab.model.secret import redact
from devicelab.analysis.forms import Form, build_needles
from devicelab.analysis.matcher import Matcher
from devicelab.model.policy import DERIVED_KIND
from devicelab.model.identity import GeoFence, Identity

#: A redacted value as `findings.redact` writes it.
REDACTED = re.compile(r"…[^\s#…]{1,4}#[0-9a-f]{6}")
#: A marker left in scrubbed text.
MARKER = re.compile(r"⟦[^⟦⟧<>&\"']{1,120}⟧")
_PRINTABLE = re.compile(rb"[\x21-\x7e]+")
# Whole numbers only: digits inside a hash, a UUID or a version string are not a position.
_DECIMAL = re.compile(r"(?<![\w.])-?\d{1,3}\.\d{2,}(?![\w.])")
_SCALED = re.compile(r"(?<![\w.])-?\d{6,10}(?![\w.])")
#: Degrees around the fence that count as "near" when scrubbing (wider than the finding's radius: hiding
#: a harmless number costs nothing, showing a position does).
_MIN_WINDOW_DEG = 0.05


def ensure_redacted(value: str) -> str:
    """`value` if it is empty or already redacted, else its redacted form (idempotent)."""
    return value if not value or REDACTED.fullmatch(value) else redact(value)


@dataclass(frozen=True, slots=True)
class _Needle:
    text: str
    marker: str
    caseless: bool
    boundary: str


class Redactor:
    """Replaces the identifiers of some identities (every searched form) and their positions in text."""

    def __init__(self, identities: Iterable[Identity] = (), derived: Iterable[str] = ()) -> None:
        """`derived`: values a differential run found following the identity (redacted like identifiers)."""
        self._fences: list[GeoFence] = []
        needles: dict[tuple[str, bool, str], _Needle] = {}
        pairs: list[tuple[str, str]] = [(DERIVED_KIND, value) for value in sorted(set(derived))]
        for identity in identities:
            pairs += identity.identifiers()
            if identity.location is not None:
                self._fences.append(identity.location)
        forms = build_needles(pairs).forms
        self._matcher = Matcher(forms)
        # a text report holds identifiers only in printable forms; the binary ones (raw bytes, BCD,
        # varints) would match rendered text by chance, and are not what the scrubber replaces either
        self._audit = Matcher([form for form in forms if _PRINTABLE.fullmatch(form.needle)])
        self._needle_of: dict[Form, _Needle] = {}
        for form in forms:
            if not _PRINTABLE.fullmatch(form.needle):  # raw digests and UTF-16 never reach report text as such
                continue
            text = form.needle.decode("ascii")
            encoding = f" {'+'.join(form.encoding)}" if form.encoding else ""
            key = (text.lower() if form.caseless else text, form.caseless, form.boundary)
            self._needle_of[form] = needles.setdefault(
                key, _Needle(text, f"⟦{form.kind} {redact(form.identifier)}{encoding}⟧", form.caseless, form.boundary))
        self._exact: dict[str, str] = {}
        self._caseless: dict[str, str] = {}
        for needle in needles.values():
            if needle.caseless:
                self._caseless.setdefault(needle.text.lower(), needle.marker)
            else:
                self._exact.setdefault(needle.text, needle.marker)
        self._all = frozenset(needles.values())
        self._patterns: dict[frozenset[_Needle], re.Pattern[str]] = {}

    @classmethod
    def none(cls) -> Redactor:
        """A Redactor that knows no identifier (reports built from records that are already redacted)."""
        return cls(())

    def scrub(self, text: str, *, positions: bool = True) -> str:
        """`text` with every known identifier form (and, with `positions`, nearby positions) replaced by a marker.

        Positions are numbers: scrub them in text that came off the wire, never in a finished report
        (a JUnit time or a byte count near the handset's longitude must stay a number).
        """
        if self._all:
            # The matcher (hyperscan) says which forms occur at all; a regex of those few replaces every occurrence.
            result = self._matcher.scan(text.encode("utf-8", "surrogatepass"))
            present = self._all if result.truncated else frozenset(
                self._needle_of[hit.form] for hit in result.hits if hit.form in self._needle_of)
            if present:
                text = self._pattern(present).sub(self._replace, text)
        if positions:
            for fence in self._fences:
                text = _scrub_positions(text, fence)
        return text

    def _pattern(self, needles: frozenset[_Needle]) -> re.Pattern[str]:
        pattern = self._patterns.get(needles)
        if pattern is None:
            if len(self._patterns) > 1024:
                self._patterns.clear()
            # Longest needle first: a whole ICCID must win over its 18-digit variant at the same place.
            ordered = sorted(needles, key=lambda n: (-len(n.text), n.text))
            pattern = self._patterns[needles] = re.compile("|".join(_bounded(n) for n in ordered))
        return pattern

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group(0)
        return self._exact.get(found) or self._caseless.get(found.lower(), "⟦redacted⟧")

    def leaks(self, data: bytes, *, positions: bool = False) -> list[str]:
        """The identifier kinds whose raw forms occur in `data` (an audit of finished report files)."""
        kinds = {hit.form.kind for hit in self._audit.scan(data).hits}
        if positions:
            text = data.decode("utf-8", "replace")
            if any(_scrub_positions(text, fence) != text for fence in self._fences):
                kinds.add("location")
        return sorted(kinds)


def _bounded(needle: _Needle) -> str:
    body = f"(?i:{re.escape(needle.text)})" if needle.caseless else re.escape(needle.text)
    if needle.boundary == "digit":
        return rf"(?<!\d){body}(?!\d)"
    if needle.boundary == "alnum":
        return rf"(?<![0-9A-Za-z]){body}(?![0-9A-Za-z])"
    return body


def _scrub_positions(text: str, fence: GeoFence) -> str:
    """Decimal degrees and E6/E7 integers close to the fence's latitude or longitude."""
    dlat = max(fence.radius_m / 111_000 * 2, _MIN_WINDOW_DEG)
    dlon = dlat / max(math.cos(math.radians(fence.lat)), 0.01)

    def near(value: float) -> bool:
        return abs(value - fence.lat) <= dlat or abs(value - fence.lon) <= dlon

    def degrees(match: re.Match[str]) -> str:
        return "⟦location⟧" if near(float(match.group(0))) else match.group(0)

    def scaled(match: re.Match[str]) -> str:
        number = int(match.group(0))
        return "⟦location⟧" if near(number / 1e6) or near(number / 1e7) else match.group(0)

    return _SCALED.sub(scaled, _DECIMAL.sub(degrees, text))
