"""The run record: everything a gate run did and decided, as typed frozen data (written as verdict.json).

Every report is rendered from this record alone, and the diff reads it back from disk. It holds
no raw identifier: identifier fields are redacted on the way in (`Redacted`), text that came off
the wire is scrubbed by `collect` before it gets here, and paths point into the evidence folder.

Outcomes and exit codes follow `devicelab.model.outcome`: each handset's from what was judged of it
and the lab errors it met, the run's the worst of them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from devicelab.model.data import Frozen
from devicelab.model.outcome import EXIT_CODES, EXIT_INTERRUPTED, Outcome, combine, judge
from devicelab.errors import DevicelabError
from devicelab.reports.redaction import ensure_redacted

StepStatus = Literal["ok", "failed", "skipped"]
RECORD_FORMAT: Literal["devicelab-run"] = "devicelab-run"
RECORD_VERSION: Literal[1] = 1


def _relative_path(value: str) -> str:
    path = PurePosixPath(value)
    # ':' would make a link a URL scheme (javascript:...) in the HTML report
    if not value or path.is_absolute() or ".." in path.parts or "\\" in value or ":" in value:
        raise ValueError("expected a relative path inside the output folder (no '..', ':' or leading '/')")
    return path.as_posix()


Redacted = Annotated[str, AfterValidator(ensure_redacted)]
RelativePath = Annotated[str, AfterValidator(_relative_path)]


class BuildRef(Frozen):
    """A build under test: its name (fixtures/builds) and its fingerprint."""

    name: str = Field(min_length=1)
    fingerprint: str = ""


class PolicyRef(Frozen):
    name: str = Field(min_length=1)
    path: str = ""
    sha256: str = ""  # of the policy as loaded (Policy.digest): which rules exactly judged the run


class HandsetInfo(Frozen):
    """A handset as the lab knows it. `serial` is redacted: it is one of the identifiers under test."""

    id: str = Field(min_length=1)  # the inventory name, e.g. "b2n-01"
    model: str = ""
    serial: Redacted = ""
    fingerprint: str = ""
    sim: str = ""  # SIM profile, e.g. "telenor-no"
    host: str = ""  # the USB host it is plugged into
    #: when this run held the handset's lease (another run may hold it before or after, never during)
    leased: datetime | None = None
    released: datetime | None = None


class ConsentChoice(Frozen):
    """One answer given in the setup wizard, e.g. ("usage & diagnostics", "declined")."""

    name: str
    choice: str


class Step(Frozen):
    """One step of the run's timeline."""

    name: str
    handset: str = ""  # empty: a step of the whole run (lease, report)
    start: datetime
    end: datetime | None = None
    status: StepStatus = "ok"
    message: str = ""

    @property
    def seconds(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.end is not None else None


class InfraError(Frozen):
    """The lab failed (not the product): which error, on which handset, at which step."""

    type: str
    handset: str = ""
    step: str = ""
    message: str
    traceback: str = ""  # an unexpected error (not a DevicelabError): where it was raised

    @classmethod
    def from_exception(cls, exc: BaseException, *, handset: str = "", step: str = "",
                       traceback: str = "") -> InfraError:
        facts = exc.facts if isinstance(exc, DevicelabError) else {}
        return cls(type=type(exc).__name__, handset=handset, step=step or str(facts.get("step", "")),
                   message=str(exc) or type(exc).__name__, traceback=traceback)


class RequestExcerpt(Frozen):
    """The request that carried a finding, scrubbed."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()


class FindingRecord(Frozen):
    """One identifier seen in one place of one flow (see analysis.findings.Finding), redacted."""

    kind: str
    identifier: Redacted
    host: str
    url: str  # scrubbed
    method: str = ""
    location: str  # e.g. "body > base64 > json:IMEI1"
    decoders: tuple[str, ...] = ()
    variant: str = ""
    tls: bool
    protocol: str = ""  # of the flow that carried it: http / tcp / udp / dns
    app: str | None = None
    source: str = ""
    flow_index: int = 0
    flow_id: str = ""
    detail: str = ""
    time: datetime | None = None
    request: RequestExcerpt | None = None
    body: str = ""  # the decoded value that held the identifier, scrubbed, with ⟦markers⟧
    body_where: str = ""  # where `body` sits in the request, e.g. "body > base64"
    body_truncated: bool = False
    logcat: tuple[str, ...] = ()  # scrubbed log lines around the flow
    screenshot: RelativePath | None = None  # the screen at that moment, inside the evidence folder


class ViolationRecord(Frozen):
    """A rule broken; `finding` is the index of the finding in its handset's findings (None: a contact)."""

    rule: str
    host: str
    source: str = ""
    flow_index: int = 0
    finding: int | None = None
    kind: str = ""
    identifier: Redacted = ""

    @property
    def rule_type(self) -> str:
        """forbidden-host, unapproved-host, kind-not-approved or plain-text."""
        return self.rule.split(":", 1)[0]


class GapRecord(Frozen):
    kind: str
    detail: str
    host: str = ""
    source: str = ""
    counts: bool = True  # False: accepted by the policy (`accepted` says why), or moot (see analysis.verdict)
    accepted: str = ""  # the policy's accept_blind reason, when the policy accepts this blind spot


class AcceptedBlind(Frozen):
    """A blind spot the policy accepts by name: not seen, not counted, and said so with its reason."""

    kind: str
    host: str
    reason: str
    detail: str = ""


class NoteRecord(Frozen):
    """A part of a flow the analysis could not decode."""

    host: str
    flow_index: int
    source: str = ""
    location: str = ""
    decoder: str = ""
    problem: str = ""


class CaptureRecord(Frozen):
    source: str
    format: str
    flows: int
    error: str = ""
    skipped: int = 0


class NotSearched(Frozen):
    kind: str
    identifier: Redacted
    reason: str


class Coverage(Frozen):
    """What the capture saw, and what it could not."""

    captures: tuple[CaptureRecord, ...] = ()
    flows_scanned: int = 0
    gaps: tuple[GapRecord, ...] = ()
    notes: tuple[NoteRecord, ...] = ()
    not_searched: tuple[NotSearched, ...] = ()
    #: identifier kinds the identity had no value for, so never searched
    missing_kinds: tuple[str, ...] = ()
    matcher: str = ""
    #: the gaps the policy accepts by name (also in `gaps`, with counts False): their own section
    accepted_blind: tuple[AcceptedBlind, ...] = ()

    @property
    def counted_gaps(self) -> tuple[GapRecord, ...]:
        return tuple(gap for gap in self.gaps if gap.counts)


class FlowGroup(Frozen):
    """Flows of one app to one host over one transport: how many, and how many request bytes."""

    host: str
    app: str | None = None
    scheme: str
    tls: bool
    undecrypted: bool = False
    count: int
    bytes: int


class EarlierBuild(Frozen):
    """An upgrade run (`--from`): what the earlier build sent before the update started, judged by
    the same policy but apart: it never counts for or against the candidate."""

    build: str
    until: float  # host time the update started
    outcome: Outcome
    findings: tuple[FindingRecord, ...] = ()
    violations: tuple[ViolationRecord, ...] = ()
    flows: tuple[FlowGroup, ...] = ()


#: how much of a destination was seen: every connection read; something unread (a counted gap); or
#: unread only where the policy accepts it by name (`accept_blind`)
Seen = Literal["read", "opaque", "accepted blind"]


class DestinationRecord(Frozen):
    """One row of the destinations table (devicelab.reports.destinations)."""

    host: str
    ip: str = ""
    protocol: str  # http / tcp / udp / dns
    ports: tuple[int, ...] = ()
    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    first_contact_s: float | None = None  # after the handset's first packet (or first flow)
    median_interval_s: float | None = None  # between two contacts
    identifiers: tuple[str, ...] = ()  # kinds found there
    approved: bool = False
    seen: Seen = "read"
    #: with `accepted blind`: the policy's `accept_blind` reason for leaving it unread
    blind_reason: str = ""


class HandsetResult(Frozen):
    """What one handset did in the run. `judged` is False when no capture was analysed."""

    handset: HandsetInfo
    judged: bool = True
    findings: tuple[FindingRecord, ...] = ()
    violations: tuple[ViolationRecord, ...] = ()
    coverage: Coverage = Coverage()
    flows: tuple[FlowGroup, ...] = ()
    before_update: EarlierBuild | None = None
    destinations: tuple[DestinationRecord, ...] = ()
    #: where the handset and the lab disagree on an identifier, or the lab's value stood in (scrubbed)
    identity_warnings: tuple[str, ...] = ()


def leaks(violations: tuple[ViolationRecord, ...]) -> int:
    """Distinct (host, identifier) pairs among violations: the same IMEI in 14 flows, breaking two
    rules, is one leak (a contact with no identifier counts once per host)."""
    return len({(v.host, v.kind, v.identifier) for v in violations})


class EvidenceFile(Frozen):
    """A file of the evidence bundle (raw, unredacted): reports link to it, never inline it."""

    path: RelativePath
    description: str = ""
    handset: str = ""
    size: int = 0
    sha256: str = ""


class RunRecord(Frozen):
    """One gate (or scan) run."""

    record: Literal["devicelab-run"] = RECORD_FORMAT
    version: Literal[1] = RECORD_VERSION
    run_id: str = Field(min_length=1)
    command: tuple[str, ...] = ()
    started: datetime | None = None
    finished: datetime | None = None
    build: BuildRef
    from_build: BuildRef | None = None  # the build flashed first, for an upgrade run (--from)
    policy: PolicyRef
    handsets: tuple[HandsetResult, ...] = ()
    consent: tuple[ConsentChoice, ...] = ()
    observation_seconds: float | None = None  # device seconds each handset was observed
    timeline: tuple[Step, ...] = ()
    infra_errors: tuple[InfraError, ...] = ()
    evidence: tuple[EvidenceFile, ...] = ()
    notes: tuple[str, ...] = ()  # about the reports themselves, e.g. "Allure HTML not generated: ..."
    interrupted: str = ""  # the operator stopped the run: why, and during which step

    @property
    def exit_code(self) -> int:
        """The outcome's code; an interrupted run exits 130 unless a leak was already seen."""
        outcome = self.outcome
        return EXIT_INTERRUPTED if self.interrupted and outcome != "fail" else EXIT_CODES[outcome]

    def outcome_of(self, handset_id: str) -> Outcome:
        """One handset's verdict."""
        result = next((r for r in self.handsets if r.handset.id == handset_id), None)
        if result is None:
            return "error"
        return judge(violations=bool(result.violations), gaps=bool(result.coverage.counted_gaps),
                     judged=result.judged, errors=any(e.handset == handset_id for e in self.infra_errors))

    @property
    def outcome(self) -> Outcome:
        """The run's verdict: the worst of its handsets'; an error no handset owns, or no handset, is an error."""
        known = {r.handset.id for r in self.handsets}
        orphans: list[Outcome] = ["error"] if any(e.handset not in known for e in self.infra_errors) else []
        return combine([*(self.outcome_of(h) for h in known), *orphans])


    def errors_of(self, handset_id: str) -> tuple[InfraError, ...]:
        return tuple(e for e in self.infra_errors if e.handset == handset_id)

    def steps_of(self, handset_id: str) -> tuple[Step, ...]:
        return tuple(s for s in self.timeline if s.handset == handset_id)
