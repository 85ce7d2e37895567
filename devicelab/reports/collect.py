"""From the analysis (ScanReport, Flows, Findings) to the run record, scrubbed on the way.

The gate calls `handset_result` once per handset after analysing its capture; `scan_run` wraps
an offline scan (`devicelab scan`) into a run record so it can use the same report writers.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devicelab.analysis.decoders import Limits, Segment, Walker, render
from devicelab.analysis.findings import Finding
from devicelab.model.secret import redact
from devicelab.model.traffic import Flow
from devicelab.analysis.scan import ScanReport
from devicelab.reports.model import (
    AcceptedBlind,
    BuildRef,
    CaptureRecord,
    Coverage,
    FindingRecord,
    FlowGroup,
    GapRecord,
    HandsetInfo,
    HandsetResult,
    NoteRecord,
    NotSearched,
    PolicyRef,
    RequestExcerpt,
    RunRecord,
    ViolationRecord,
)
from devicelab.reports.redaction import MARKER, Redactor

#: Characters of decoded body kept per finding (the evidence folder has the whole flow).
MAX_BODY_CHARS = 4000
MAX_URL_CHARS = 2000
MAX_LOG_LINES = 40
#: Flows whose bodies are excerpted; findings in later flows keep their place but no excerpt.
MAX_EXCERPTED_FLOWS = 500
#: Headers whose values are credentials: shown as their length only.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
_EXCERPT_LIMITS = Limits(max_decoded=8 * 1024 * 1024, max_segments=20_000)


@dataclass(frozen=True)
class FindingContext:
    """What the gate saw around flows, keyed by flow id: log lines, and a screenshot in the evidence folder."""

    logcat: Mapping[str, Sequence[str]] = field(default_factory=dict)
    screenshots: Mapping[str, str] = field(default_factory=dict)


def handset_result(handset: HandsetInfo, report: ScanReport, redactor: Redactor,
                   context: FindingContext | None = None, *, judged: bool = True,
                   identity_warnings: Sequence[str] = ()) -> HandsetResult:
    """One handset's part of the run record, from its scan report."""
    context = context or FindingContext()
    flows = {(a.flow.source, a.flow.index): a.flow for a in report.analyses}
    findings = report.findings
    excerpts = _Excerpts(redactor)
    records = tuple(finding_record(f, flows.get((f.source, f.flow_index)), redactor, context, excerpts)
                    for f in findings)
    index = {f: i for i, f in reversed(list(enumerate(findings)))}  # the first of equal findings
    violations = tuple(
        ViolationRecord(rule=v.rule, host=redactor.scrub(v.host), source=v.source, flow_index=v.flow_index,
                        finding=index.get(v.finding) if v.finding else None,
                        kind=v.finding.kind if v.finding else "",
                        identifier=v.finding.redacted if v.finding else "")
        for v in report.verdict.violations
    )
    return HandsetResult(handset=handset, judged=judged, findings=records, violations=violations,
                         coverage=coverage(report, redactor), flows=flow_groups(flows.values()),
                         identity_warnings=tuple(redactor.scrub(w) for w in identity_warnings))


def coverage(report: ScanReport, redactor: Redactor) -> Coverage:
    counted = set(report.verdict.counted_gaps)
    reasons = dict(report.verdict.accepted)
    return Coverage(
        captures=tuple(CaptureRecord(source=c.source, format=c.format, flows=len(c.flows),
                                     error=redactor.scrub(c.error), skipped=len(c.skipped)) for c in report.captures),
        flows_scanned=len(report.analyses),
        gaps=tuple(GapRecord(kind=g.kind, detail=redactor.scrub(g.detail), host=g.host, source=g.source,
                             counts=g in counted, accepted=redactor.scrub(reasons.get(g, "")))
                   for g in report.verdict.gaps),
        notes=tuple(NoteRecord(host=a.flow.host, flow_index=a.flow.index, source=a.flow.source,
                               location=redactor.scrub(render(n.where)), decoder=n.decoder,
                               problem=redactor.scrub(n.problem))
                    for a in report.analyses for n in a.notes),
        not_searched=tuple(NotSearched(kind=s.kind, identifier=redact(s.identifier),
                                       reason=redactor.scrub(s.reason)) for s in report.needles.skipped),
        missing_kinds=report.missing_kinds,
        matcher=report.engine,
        accepted_blind=tuple(AcceptedBlind(kind=g.kind, host=g.host, reason=redactor.scrub(reason),
                                           detail=redactor.scrub(g.detail)) for g, reason in report.verdict.accepted),
    )


def flow_groups(flows: Iterable[Flow]) -> tuple[FlowGroup, ...]:
    """Flows counted per (host, app, scheme, TLS): the hosts-contacted table and the diff's input."""
    counts: Counter[tuple[str, str | None, str, bool, bool]] = Counter()
    sizes: Counter[tuple[str, str | None, str, bool, bool]] = Counter()
    for flow in flows:
        key = (flow.host, flow.app, flow.request.scheme, flow.tls or flow.undecrypted_tls, flow.undecrypted_tls)
        counts[key] += 1
        sizes[key] += len(flow.request.content)
    return tuple(FlowGroup(host=host, app=app, scheme=scheme, tls=tls, undecrypted=undecrypted, count=counts[key],
                           bytes=sizes[key])
                 for key in sorted(counts, key=lambda k: (k[0], k[1] or "", k[2]))
                 for host, app, scheme, tls, undecrypted in [key])


def finding_record(finding: Finding, flow: Flow | None, redactor: Redactor, context: FindingContext | None = None,
                   excerpts: _Excerpts | None = None) -> FindingRecord:
    """A finding, redacted, with the request and decoded body that carried it."""
    context = context or FindingContext()
    excerpts = excerpts or _Excerpts(redactor)
    body, body_where, truncated = excerpts.body(flow, finding.where) if flow is not None else ("", "", False)
    logcat = tuple(redactor.scrub(line) for line in context.logcat.get(finding.flow_id, ())[:MAX_LOG_LINES])
    return FindingRecord(
        kind=finding.kind, identifier=finding.redacted, host=redactor.scrub(finding.host), url=_url(finding.url, redactor),
        method=finding.method, location=redactor.scrub(finding.location), decoders=finding.decoders,
        variant=finding.variant, tls=finding.tls, protocol=flow.protocol if flow is not None else "",
        app=finding.app, source=finding.source,
        flow_index=finding.flow_index, flow_id=finding.flow_id, detail=redactor.scrub(finding.detail),
        time=datetime.fromtimestamp(flow.timestamp, UTC) if flow is not None and flow.timestamp else None,
        request=_request(flow, redactor) if flow is not None else None,
        body=body, body_where=body_where, body_truncated=truncated, logcat=logcat,
        screenshot=context.screenshots.get(finding.flow_id),
    )


def _url(url: str, redactor: Redactor) -> str:
    url = redactor.scrub(url)
    return url if len(url) <= MAX_URL_CHARS else url[:MAX_URL_CHARS] + "…"


def _request(flow: Flow, redactor: Redactor) -> RequestExcerpt:
    headers = tuple(
        (name, f"(hidden: {len(value)} characters)" if name.lower() in SECRET_HEADERS else redactor.scrub(value))
        for name, value in flow.request.headers
    )
    return RequestExcerpt(method=flow.request.method, url=_url(flow.request.url, redactor), headers=headers)


class _Excerpts:
    """Decoded values of flows, walked once per flow, scrubbed."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._walked: dict[str, dict[tuple[str, ...], bytes]] = {}

    def body(self, flow: Flow, where: tuple[str, ...]) -> tuple[str, str, bool]:
        """(scrubbed text, where it sits, truncated) of the document that holds `where`."""
        key = f"{flow.source}\0{flow.index}"
        segments = self._walked.get(key)
        if segments is None:
            if len(self._walked) >= MAX_EXCERPTED_FLOWS:
                return "", "", False
            segments = self._walked[key] = {}
            for item in Walker(_EXCERPT_LIMITS).walk(flow.request):
                if isinstance(item, Segment):
                    segments.setdefault(item.where, item.data)
        for n in range(len(where), 0, -1):
            place = where[:n]
            # A leaf ("json:IMEI1") is one value: show the document around it instead.
            if place in segments and (":" not in place[-1] or n == 1):
                text, truncated = self.render(segments[place])
                return text, render(place), truncated
        return "", "", False

    def render(self, data: bytes) -> tuple[str, bool]:
        text = data.decode("utf-8", "backslashreplace")
        stripped = text.strip()
        if stripped[:1] in "{[" and len(text) < 256 * 1024:
            with contextlib.suppress(ValueError):  # not JSON after all: shown as it is
                text = json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        elif "=" in stripped and "&" in stripped and not any(c.isspace() for c in stripped):
            text = stripped.replace("&", "&\n")  # a form or query: one field a line
        return clip(self.redactor.scrub(text), MAX_BODY_CHARS)


def clip(text: str, limit: int) -> tuple[str, bool]:
    """At most `limit` characters, centred on the first marker when there is one."""
    if len(text) <= limit:
        return text, False
    marker = MARKER.search(text)
    start = max(0, min((marker.start() if marker else 0) - limit // 3, len(text) - limit))
    head = "…" if start else ""
    tail = "…" if start + limit < len(text) else ""
    return head + text[start:start + limit] + tail, True


def scan_run(report: ScanReport, redactor: Redactor, *, run_id: str, build: BuildRef, policy_path: str = "",
             command: Sequence[str] = (), handset: HandsetInfo | None = None) -> RunRecord:
    """An offline scan as a run record with one handset (the captures' source), for the same writers."""
    handset = handset or HandsetInfo(id="capture", model="saved captures")
    now = datetime.now(UTC)
    return RunRecord(run_id=run_id, command=tuple(command), started=now, finished=now, build=build,
                     policy=PolicyRef(name=report.policy.name, path=policy_path, sha256=report.policy.digest),
                     handsets=(handset_result(handset, report, redactor),))
