"""Differential identity analysis (Agrigento et al., NDSS 2017): identifiers in encodings nobody
told us about.

Two handsets with different identities run the same build, choices and triggers, each in two or
more repeats (a reboot between). Their flows are aligned by (app, host, method, path template),
then by field: every place the analyzer's decoders reach (JSON keys, form and query keys,
protobuf field paths, headers, cookies, Base64 and the like inside them) plus each URL path
segment. A field is `identity_derived` when its value

    differs between the handsets,
    is the same on every request of each handset, in at least two repeats (a nonce or a session
        token changes: never flagged), and missing from none of them (a token the server handed
        out after the first request is state, not identity),
    is no time and no counter (a number near the capture's time, a date, too few bits to identify),
    and is not where the analyzer already found a known identifier.

The encrypted IMEI, or a salted hash of the serial, is such a field: no list of encodings finds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from devicelab.analysis.decoders import Limits, Segment, Walker, render
from devicelab.analysis.findings import Finding
from devicelab.analysis.scan import ScanReport
from devicelab.analysis.verdict import evaluate
from devicelab.model.policy import DERIVED_KIND, Policy
from devicelab.model.secret import redact
from devicelab.model.traffic import Flow

#: A value shorter than this cannot carry an identifier (the shortest needle is 6 bytes).
MIN_VALUE_BYTES = 6
#: An integer below this has too few bits to single out a handset: a counter, a length, an enum.
COUNTER_LIMIT = 2**24
#: How far from the flow's own time a number or date still counts as a time (a first-boot time
#: or a registration date sent weeks later is still a time, not an identity).
TIME_SLACK = 10 * 366 * 24 * 3600.0
_LIMITS = Limits(max_decoded=8 * 1024 * 1024, max_segments=20_000)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_HEX = re.compile(r"[0-9a-f]{8,}", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_DATE = re.compile(r"(19|20)\d\d-?[01]\d-?[0-3]\d([ T_]?[0-2]\d:?[0-5]\d(:?[0-6]\d)?)?")


@dataclass(frozen=True, slots=True)
class HandsetTraffic:
    """One handset's flows, the known-identifier findings in them, and when each repeat began."""

    name: str
    flows: Sequence[Flow]
    findings: Sequence[Finding] = ()
    #: host times at which repeats 2, 3, ... began (the reboots); empty: one repeat
    repeat_starts: Sequence[float] = ()

    def repeat_of(self, flow: Flow) -> int:
        at = flow.timestamp or 0.0
        return sum(1 for start in self.repeat_starts if at >= start)


@dataclass(frozen=True, slots=True)
class Observation:
    repeat: int
    flow: Flow
    value: bytes


@dataclass(frozen=True)
class DerivedField:
    """A field whose value follows the handset's identity: the evidence of one `identity_derived`."""

    flow_key: tuple[str, str, str, str]  # (app, host, method, path template)
    where: tuple[str, ...]
    #: per handset: its one value and the repeats (count of requests per repeat) it was seen in
    values: dict[str, bytes]
    repeats: dict[str, dict[int, int]]
    observations: dict[str, tuple[Observation, ...]] = field(repr=False, default_factory=dict)

    @property
    def location(self) -> str:
        return render(self.where)

    def describe(self, handset: str) -> str:
        """Evidence for the report: both values redacted, and the repeats each was seen in."""
        parts = []
        for name, value in self.values.items():
            seen = ", ".join(f"repeat {r + 1}: {n}x" for r, n in sorted(self.repeats[name].items()))
            mark = " (this handset)" if name == handset else ""
            parts.append(f"{name}{mark} {redact(_text(value))} [{seen}]")
        return ("differs between handsets, stable within each: " + "; ".join(parts))


def path_template(path: str) -> str:
    """/api/v1/devices/490154203237518/ping?x=1 -> /api/v1/devices/{id}/ping: ids in paths vary.
    Numbers and hex ids are one class: a random hex id that happens to hold no letter is still an id."""
    segments = path.partition("?")[0].split("/")
    return "/".join(_template(s) for s in segments)


def _template(segment: str) -> str:
    if segment.isdigit() or (_HEX.fullmatch(segment) and any(c.isdigit() for c in segment)):
        return "{id}"
    if _UUID.fullmatch(segment):
        return "{uuid}"
    return segment


def flow_key(flow: Flow) -> tuple[str, str, str, str]:
    return (flow.app or "", flow.host.lower(), flow.request.method.upper(), path_template(flow.request.path))


def fields(flow: Flow) -> dict[tuple[str, ...], bytes]:
    """Every value of a request by its place: the analyzer's walk (the first value at each place),
    plus each URL path segment (which the template above hides)."""
    found: dict[tuple[str, ...], bytes] = {}
    for item in Walker(_LIMITS).walk(flow.request):
        if isinstance(item, Segment) and item.where not in found:
            found[item.where] = item.data
    for index, segment in enumerate(flow.request.path.partition("?")[0].split("/")):
        if segment:
            found[("url", f"segment:{index}")] = segment.encode()
    return found


def is_time(value: bytes, reference: float) -> bool:
    """A number of (milli/micro/nano)seconds near `reference`, or a date."""
    text = _text(value).strip()
    if _DATE.fullmatch(text) or re.fullmatch(r"\d{4}-\d\d-\d\d[T ][\d:.]+(Z|[+-]\d\d:?\d\d)?", text):
        return True
    if not _NUMBER.fullmatch(text):
        return False
    number = float(text)
    return any(abs(number / scale - reference) <= TIME_SLACK for scale in (1.0, 1e3, 1e6, 1e9))


def is_counter(values: Iterable[bytes]) -> bool:
    """Integers too small to identify anything (a sequence number, a length, a version)."""
    for value in values:
        text = _text(value).strip()
        if not re.fullmatch(r"-?\d{1,9}", text) or abs(int(text)) >= COUNTER_LIMIT:
            return False
    return True


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _related(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One place is inside the other (or they are the same)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def derive(handsets: Sequence[HandsetTraffic]) -> list[DerivedField]:
    """The fields whose value follows the identity (see the module's doc). Needs two handsets."""
    if len(handsets) < 2:
        return []
    # (flow key, where) -> handset -> observations
    table: dict[tuple[tuple[str, str, str, str], tuple[str, ...]], dict[str, list[Observation]]] = {}
    explained: set[tuple[tuple[str, str, str, str], tuple[str, ...]]] = set()
    requests: dict[tuple[str, tuple[str, str, str, str]], int] = {}  # (handset, flow key) -> requests
    for handset in handsets:
        by_flow = {(f.source, f.index): f for f in handset.flows}
        for finding in handset.findings:
            flow = by_flow.get((finding.source, finding.flow_index))
            if flow is not None:
                explained.add((flow_key(flow), finding.where))
        for flow in handset.flows:
            if flow.protocol != "http" or flow.undecrypted_tls:
                continue
            key = flow_key(flow)
            requests[(handset.name, key)] = requests.get((handset.name, key), 0) + 1
            repeat = handset.repeat_of(flow)
            for where, value in fields(flow).items():
                per = table.setdefault((key, where), {})
                per.setdefault(handset.name, []).append(Observation(repeat, flow, value))
    names = [h.name for h in handsets]
    repeats_of = {h.name: len(h.repeat_starts) + 1 for h in handsets}
    known: dict[tuple[str, str, str, str], list[tuple[str, ...]]] = {}
    for key, where in explained:
        known.setdefault(key, []).append(where)
    flagged: list[DerivedField] = []
    for (key, where), per in table.items():
        if any(name not in per for name in names):
            continue  # seen on one handset only: nothing to compare
        values: dict[str, bytes] = {}
        for name in names:
            distinct = {o.value for o in per[name]}
            if len(distinct) != 1:
                break  # changes within a handset: a nonce, a session token, a time
            if len(per[name]) < requests[(name, key)]:
                break  # missing from some requests: state learnt on the way (a server's token), not the handset
            seen_in = {o.repeat for o in per[name]}
            needed = 2 if repeats_of[name] > 1 else 1
            if len(per[name]) < 2 or len(seen_in) < needed:
                break  # one request proves no stability
            values[name] = distinct.pop()
        else:
            if len(set(values.values())) != len(values):
                continue  # the same on two handsets: not the identity
            if any(len(v.strip()) < MIN_VALUE_BYTES for v in values.values()) or is_counter(values.values()):
                continue
            if any(is_time(o.value, o.flow.timestamp or _now()) for obs in per.values() for o in obs):
                continue
            if any(_related(where, k) for k in known.get(key, ())):
                continue  # the analyzer already names the identifier here (or around it)
            repeats = {name: _count(o.repeat for o in per[name]) for name in names}
            flagged.append(DerivedField(key, where, values, repeats, {n: tuple(per[n]) for n in names}))
    return _most_specific(flagged)


def _count(repeats: Iterable[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for r in repeats:
        counts[r] = counts.get(r, 0) + 1
    return counts


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _most_specific(flagged: list[DerivedField]) -> list[DerivedField]:
    """One finding per field: the body and the JSON value inside it both differ, and the JSON value
    says where; the value and its Base64-decoded bytes are one field, named by the value."""
    best: dict[tuple[object, tuple[str, ...]], DerivedField] = {}
    for item in flagged:
        key = (item.flow_key, _field_of(item.where))
        if key not in best or len(item.where) < len(best[key].where):
            best[key] = item
    return [f for (fk, where), f in best.items() if not any(
        ofk == fk and len(other) > len(where) and other[:len(where)] == where for ofk, other in best)]


def _field_of(where: tuple[str, ...]) -> tuple[str, ...]:
    """The place up to its last key (`json:d`, `cookie:sid`): decoder steps after it add no field."""
    keyed = [i for i, part in enumerate(where) if ":" in part]
    return where[:keyed[-1] + 1] if keyed else where[:1]


def findings_for(handset: HandsetTraffic, derived: Sequence[DerivedField]) -> list[Finding]:
    """One `identity_derived` finding per derived field and flow of this handset that carried it."""
    found: list[Finding] = []
    for item in derived:
        for obs in item.observations.get(handset.name, ()):
            flow = obs.flow
            found.append(Finding(
                kind=DERIVED_KIND, identifier=_text(obs.value), host=flow.host, url=flow.request.url,
                where=item.where, decoders=_steps(flow, item.where), variant="derived", tls=flow.tls,
                source=flow.source, flow_index=flow.index, flow_id=flow.id, method=flow.request.method,
                app=flow.app, detail=item.describe(handset.name)))
    return found


def _steps(flow: Flow, where: tuple[str, ...]) -> tuple[str, ...]:
    for item in Walker(_LIMITS).walk(flow.request):
        if isinstance(item, Segment) and item.where == where:
            return item.steps
    return ()


def with_derived(report: ScanReport, found: Sequence[Finding], policy: Policy) -> ScanReport:
    """The handset's report with its `identity_derived` findings added and the verdict judged again."""
    if not found:
        return report
    by_flow: dict[tuple[str, int], list[Finding]] = {}
    for finding in found:
        by_flow.setdefault((finding.source, finding.flow_index), []).append(finding)
    analyses = tuple(
        replace(a, findings=(*a.findings, *by_flow.get((a.flow.source, a.flow.index), ()))) if
        (a.flow.source, a.flow.index) in by_flow else a
        for a in report.analyses)
    flows = [a.flow for a in analyses]
    findings = [f for a in analyses for f in a.findings]
    verdict = evaluate(findings, flows, report.verdict.gaps, policy)
    return replace(report, analyses=analyses, verdict=verdict)


def traffic_of(name: str, report: ScanReport, repeat_starts: Sequence[float] = ()) -> HandsetTraffic:
    return HandsetTraffic(name, [a.flow for a in report.analyses], report.findings, tuple(repeat_starts))


__all__ = ["DerivedField", "HandsetTraffic", "derive", "fields", "findings_for", "flow_key",
           "is_counter", "is_time", "path_template", "traffic_of", "with_derived"]
