"""The Analyzer (one Flow in, findings out) and the offline scan of capture files.

The live capture uses the same Analyzer on the same Flow model, outside mitmproxy's hooks: the
needles are compiled once per identity, and `analyze` is thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from devicelab.analysis import dns_names
from devicelab.analysis.decoders import Limits, Note, Segment, Walker
from devicelab.analysis.findings import Finding, prune
from devicelab.analysis.forms import Form, Needles, build_needles
from devicelab.analysis.location import LocationHit, Locator
from devicelab.analysis.matcher import Engine, Matcher
from devicelab.analysis.prefilter import Gate
from devicelab.analysis.quiet_path import QuietPath, quiet_path
from devicelab.analysis.verdict import Verdict, evaluate
from devicelab.model.identity import LOCATION_KIND, Identity
from devicelab.model.policy import Policy
from devicelab.model.traffic import CaptureRead, CoverageGap, Flow


@dataclass(frozen=True)
class FlowAnalysis:
    flow: Flow
    findings: tuple[Finding, ...]
    notes: tuple[Note, ...]  # what could not be decoded in this flow


class Analyzer:
    """Finds one identity's identifiers in flows."""

    def __init__(self, identity: Identity, limits: Limits | None = None, engine: Engine = "auto",
                 fast: bool = True) -> None:
        self.identity = identity
        self.limits = limits or Limits()
        self.needles: Needles = build_needles(identity)
        self.locator = Locator(identity.location) if identity.location else None
        # a geohash cell is a position in one token: a needle of the location, not of an identifier
        self._cells: dict[Form, str] = {}
        if self.locator is not None:
            fence = self.locator.fence
            for cell, meters in self.locator.geohash_cells():
                form = Form(LOCATION_KIND, f"{fence.lat},{fence.lon}", "geohash", ("geohash",), cell.encode(), True,
                            "token")
                self._cells[form] = f"geohash cell, {meters:.0f} m from the handset"
        self.matcher = Matcher([*self.needles.forms, *self._cells], engine)
        self.gate: Gate | None = None
        if self.matcher.engine == "hyperscan":
            lat, lon = self.locator.hints() if self.locator is not None else ([], [])
            self.gate = Gate(self.matcher.forms, lat, lon)
        # `fast`: requests the C prover shows quiet skip the walker (False: the walker sees every request)
        self.quiet_path: QuietPath | None = quiet_path(self.gate, self.limits) if fast else None

    def analyze(self, flow: Flow) -> FlowAnalysis:
        # a DNS query's data is in its name, which the walk of its request does not read
        if self.quiet_path is not None and flow.protocol != "dns":
            proven = self._proven(flow)
            if proven is not None:
                return proven
        walker = Walker(self.limits, self.gate)
        if flow.protocol != "dns" and walker.quiet(flow.request):
            return FlowAnalysis(flow, (), tuple(walker.notes))
        found: list[Finding] = []
        for item in walker.walk(flow.request):
            if isinstance(item, Segment):
                if not item.quiet and self._scan(flow, item, found):
                    walker.notes.append(Note(item.where, "matcher", "too many candidate matches: scan cut short"))
            elif self.locator is not None:
                hit = self.locator.in_group(item)
                if hit is not None:
                    found.append(self._location(flow, hit))
        if flow.protocol == "dns":
            # an identifier the walk already found in the name (hex in one label) is not found again
            seen = {(f.kind, f.identifier, f.decoders) for f in found}
            for candidate in dns_names.candidates(flow.request.host):
                for match in self.matcher.scan(candidate.data).hits:
                    form = match.form
                    decoders = (*candidate.steps, *form.encoding)
                    if (form.kind, form.identifier, decoders) not in seen:
                        seen.add((form.kind, form.identifier, decoders))
                        found.append(self._finding(flow, form.kind, form.identifier, candidate.where, decoders,
                                                   form.variant))
        return FlowAnalysis(flow, tuple(prune(found)), tuple(walker.notes))

    def _proven(self, flow: Flow) -> FlowAnalysis | None:
        """The analysis from the C prover's walk (quiet_path.py), or None: the walker's."""
        assert self.quiet_path is not None
        proven = self.quiet_path.prove(flow.request)
        if proven is None:
            return None
        notes, loud = proven
        if not loud:
            return FlowAnalysis(flow, (), notes)
        found: list[Finding] = []
        for where, data in loud:
            # on the prover's paths each step past the body is a place of its own ("form:key" is the form's)
            steps = tuple("form" if place.startswith("form:") else place for place in where[1:])
            if self._scan(flow, Segment(where, steps, data), found):
                return None  # the walker places the matcher's note among its own
        return FlowAnalysis(flow, tuple(prune(found)), notes)

    def _scan(self, flow: Flow, item: Segment, found: list[Finding]) -> bool:
        """The identifiers and the position in one segment, into `found`; whether the matcher cut its scan short."""
        result = self.matcher.scan(item.data)
        for match in result.hits:
            form = match.form
            found.append(self._finding(flow, form.kind, form.identifier, item.where, (*item.steps, *form.encoding),
                                       form.variant, self._cells.get(form, "")))
        if self.locator is not None:
            hit: LocationHit | None = self.locator.in_text(item)
            if hit is not None:
                found.append(self._location(flow, hit))
        return result.truncated

    def _finding(self, flow: Flow, kind: str, identifier: str, where: tuple[str, ...],
                 decoders: tuple[str, ...], variant: str, detail: str = "") -> Finding:
        return Finding(
            kind=kind, identifier=identifier, host=flow.host, url=flow.request.url, where=where,
            decoders=decoders, variant=variant, tls=flow.tls, source=flow.source, flow_index=flow.index,
            flow_id=flow.id, method=flow.request.method, app=flow.app, detail=detail,
        )

    def _location(self, flow: Flow, hit: LocationHit) -> Finding:
        assert self.locator is not None
        fence = self.locator.fence
        return self._finding(flow, LOCATION_KIND, f"{fence.lat},{fence.lon}", hit.where, hit.steps, "position",
                             f"{hit.keys}, {hit.distance_m:.0f} m from the handset")


@dataclass(frozen=True)
class ScanReport:
    """Everything one scan found and decided."""

    policy: Policy
    captures: tuple[CaptureRead, ...]
    analyses: tuple[FlowAnalysis, ...]
    verdict: Verdict
    needles: Needles
    engine: str
    #: identifier kinds the identity has no value for: nothing of theirs was searched
    missing_kinds: tuple[str, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for analysis in self.analyses for f in analysis.findings)


def coverage_gaps(captures: Iterable[CaptureRead]) -> list[CoverageGap]:
    """What the capture files themselves say was not seen."""
    gaps: list[CoverageGap] = []
    for capture in captures:
        if capture.error:
            gaps.append(CoverageGap("capture_incomplete", capture.error, source=capture.source))
        elif not capture.flows:
            gaps.append(CoverageGap("empty_capture", "the capture holds no flows", source=capture.source))
        for flow in capture.flows:
            if flow.undecrypted_tls:
                gaps.append(CoverageGap("tls_undecrypted", f"flow {flow.index}: TLS passed through unopened",
                                        host=flow.host, source=capture.source))
            names = flow.names
            if len(names) > 1:  # judged under every name, and reported: a client that lies about its host
                went = flow.destination.lower() if flow.destination.lower() in names[1:] else names[-1]
                gaps.append(CoverageGap("name_mismatch", f"flow {flow.index}: the client named "
                                        f"{' / '.join(n for n in names if n != went)} but went to {went}",
                                        host=went, source=capture.source))
    return gaps


#: What a decoder or the matcher says when it stopped at a bound (the rest of the body went unsearched).
LIMIT_SIGNS = ("output cut at", "budget exhausted", "nested deeper than", "rest not", "too large to decode",
               "scan cut short")


def limit_gaps(analyses: Iterable[FlowAnalysis]) -> list[CoverageGap]:
    """One `decode_limit` gap per flow whose analysis hit a bound: what lies past it was not searched."""
    gaps: list[CoverageGap] = []
    for analysis in analyses:
        hit = [n for n in analysis.notes if any(sign in n.problem for sign in LIMIT_SIGNS)]
        if hit:
            detail = "; ".join(f"{n.decoder}: {n.problem}" for n in hit[:3])
            gaps.append(CoverageGap("decode_limit", f"flow {analysis.flow.index}: {detail}", host=analysis.flow.host,
                                    source=analysis.flow.source))
    return gaps


def scan(captures: Iterable[CaptureRead], identity: Identity, policy: Policy,
         extra_gaps: Iterable[CoverageGap] = (), analyzer: Analyzer | None = None) -> ScanReport:
    """Analyse every flow of captures already read, and judge the lot."""
    captures = tuple(captures)
    analyzer = analyzer or Analyzer(identity)
    flows = [flow for capture in captures for flow in capture.flows]
    analyses = tuple(analyzer.analyze(flow) for flow in flows)
    findings = [f for analysis in analyses for f in analysis.findings]
    verdict = evaluate(findings, flows, [*coverage_gaps(captures), *limit_gaps(analyses), *extra_gaps], policy)
    return ScanReport(policy, captures, analyses, verdict, analyzer.needles, analyzer.matcher.engine,
                      analyzer.identity.missing_kinds())
