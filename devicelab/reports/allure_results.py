"""Allure results: one test result per handset × check, built with allure-python-commons' model.

Besides the `*-result.json` files: `environment.properties` (build, policy, handsets),
`categories.json` (product failures apart from lab errors), `executor.json`, and attachments per
finding: the request, the decoded body with the identifier highlighted (redacted), the logcat
lines around it and the screenshot of that moment when the run has them.

Statuses: fail and inconclusive are "failed" (categories tell them apart), lab errors "broken".
The build is an excluded parameter: Allure's history then follows one check on one handset
across builds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from allure_commons.model2 import (
    Attachment,
    Label,
    Parameter,
    StatusDetails,
    TestResult,
    TestStepResult,
)
from attr import asdict

from devicelab.reports.checks import RUN_SCOPE, Check, run_checks
from devicelab.reports.model import FindingRecord, HandsetResult, RunRecord
from devicelab.reports.output import ReportFolder
from devicelab.reports.redaction import MARKER

RESULTS_DIR = "allure-results"
#: Findings attached per test result (one per host, kind and place; the HTML report lists them all).
MAX_ATTACHED_FINDINGS = 20
_STATUS = {"passed": "passed", "failed": "failed", "inconclusive": "failed", "error": "broken"}
_STEP_STATUS = {"ok": "passed", "failed": "broken", "skipped": "skipped"}
CATEGORIES: list[dict[str, Any]] = [
    {"name": "Personal data leak", "matchedStatuses": ["failed"], "messageRegex": "(?s)LEAK:.*",
     "description": "Personal data reached a host the policy does not allow."},
    {"name": "Forbidden host contacted", "matchedStatuses": ["failed"], "messageRegex": "(?s)FORBIDDEN HOST:.*",
     "description": "The handset contacted a host the policy forbids outright."},
    {"name": "Coverage incomplete", "matchedStatuses": ["failed"], "messageRegex": "(?s)INCONCLUSIVE:.*",
     "description": "Traffic that could not be inspected: the run is inconclusive, never a pass."},
    {"name": "Lab infrastructure", "matchedStatuses": ["broken"], "messageRegex": "(?s)(LAB|NOT JUDGED):.*",
     "description": "The lab failed (handset, cable, tool, proxy): rerun; says nothing about the build."},
]


def _ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def _md5(*parts: str) -> str:
    return hashlib.md5("\0".join(parts).encode("utf-8")).hexdigest()  # noqa: S324 - an id, not security


def _dump(item: Any) -> str:
    # The filter allure-commons' file logger uses: drop empty fields, keep False.
    data = asdict(item, filter=lambda _, v: v or v is False)
    return json.dumps(data, indent=2, ensure_ascii=False)


def property_escape(text: str, key: bool = False) -> str:
    """Java .properties escaping (Allure reads environment.properties with java.util.Properties)."""
    out = []
    for i, ch in enumerate(text):
        if ch in "\\=:#!" or (ch == " " and (key or i == 0)):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif not 0x20 <= ord(ch) < 0x7F:
            out.append("".join(f"\\u{unit:04x}" for unit in _utf16(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _utf16(ch: str) -> Iterator[int]:
    data = ch.encode("utf-16-be", "replace")
    for i in range(0, len(data), 2):
        yield int.from_bytes(data[i:i + 2], "big")


def highlighted_html(title: str, text: str) -> str:
    """A small page with the scrubbed text, its ⟦markers⟧ highlighted."""
    body = MARKER.sub(lambda m: f"<mark>{m.group(0)}</mark>", escape(text, quote=False))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>"
            "body{font:13px/1.45 ui-monospace,Menlo,Consolas,monospace;margin:12px;color:#1f2933}"
            "h1{font:600 14px system-ui,sans-serif}pre{white-space:pre-wrap;word-break:break-all}"
            "mark{background:#ffe08a;color:#7a2e00;font-weight:600;padding:0 2px;border-radius:3px}"
            f"</style></head><body><h1>{escape(title)}</h1><pre>{body}</pre></body></html>")


class AllureWriter:
    """Writes one run's Allure results into OUT/allure-results through the guarded report folder."""

    def __init__(self, run: RunRecord, folder: ReportFolder) -> None:
        self.run = run
        self.folder = folder

    def write(self) -> Path:
        """All result files; results of an earlier run in the same folder are removed first (they would mix)."""
        shutil.rmtree(self.folder.path(RESULTS_DIR), ignore_errors=True)
        for check in run_checks(self.run):
            self._result(check)
        self.folder.write_text(f"{RESULTS_DIR}/categories.json", json.dumps(CATEGORIES, indent=2) + "\n")
        self.folder.write_text(f"{RESULTS_DIR}/environment.properties", self.environment())
        executor = {"name": "devicelab", "type": "devicelab", "buildName": self.run.run_id,
                    "reportName": f"devicelab privacy gate: {self.run.build.name}"}
        self.folder.write_text(f"{RESULTS_DIR}/executor.json", json.dumps(executor, indent=2, ensure_ascii=False))
        return self.folder.path(RESULTS_DIR)

    def environment(self) -> str:
        run = self.run
        facts = {"build": run.build.name, "build.fingerprint": run.build.fingerprint, "policy": run.policy.name,
                 "policy.file": run.policy.path, "run": run.run_id, "outcome": run.outcome}
        if run.from_build is not None:
            facts["from_build"] = run.from_build.name
        for result in run.handsets:
            h = result.handset
            facts[f"handset.{h.id}"] = ", ".join(x for x in (h.model, h.sim and f"SIM {h.sim}", h.host) if x)
        return "".join(f"{property_escape(k, key=True)}={property_escape(v)}\n" for k, v in facts.items() if v)

    def _result(self, check: Check) -> None:
        run = self.run
        result_of = next((r for r in run.handsets if r.handset.id == check.handset), None)
        info = result_of.handset if result_of else None
        steps = [TestStepResult(name=s.name, status=_STEP_STATUS[s.status], start=_ms(s.start), stop=_ms(s.end),
                                stage="finished", statusDetails=StatusDetails(message=s.message) if s.message else None)
                 for s in check.steps]
        labels = [Label("parentSuite", "devicelab privacy gate"), Label("suite", run.build.name),
                  Label("subSuite", check.handset), Label("feature", check.id.split(":")[0]),
                  Label("story", check.name), Label("framework", "devicelab"),
                  Label("severity", "critical" if check.id in ("personal-data", "forbidden-hosts") else "normal")]
        if info is not None and info.host:
            labels.append(Label("host", info.host))
        if info is not None and info.model:
            labels.append(Label("tag", info.model))
        test = TestResult(
            uuid=str(uuid.uuid4()), name=check.name,
            fullName=f"devicelab.{run.build.name}.{check.handset}.{check.id}",
            historyId=_md5(check.id, check.handset), testCaseId=_md5(check.id),
            status=_STATUS[check.status], stage="finished",
            statusDetails=StatusDetails(message=check.message, trace=check.details or None) if check.message else None,
            start=_ms(run.started), stop=_ms(run.finished), labels=labels, steps=steps,
            parameters=[Parameter("handset", check.handset if check.handset != RUN_SCOPE else "(run)"),
                        Parameter("build", run.build.name, excluded=True), Parameter("policy", run.policy.name)],
            description=self._description(check, result_of),
        )
        if result_of is not None and result_of.destinations and check.id in ("personal-data", "forbidden-hosts"):
            test.attachments.append(self._attach(f"destinations of {check.handset}",
                                                 destinations_csv(result_of), "text/csv", "csv"))
        if result_of is not None:
            for finding in _representatives(result_of, check.findings):
                test.attachments += self._finding_attachments(finding)
        self.folder.write_text(f"{RESULTS_DIR}/{test.uuid}-result.json", _dump(test))

    def _description(self, check: Check, result: HandsetResult | None) -> str:
        run = self.run
        lines = [f"Build **{run.build.name}** (`{run.build.fingerprint or 'no fingerprint'}`), "
                 f"policy **{run.policy.name}**."]
        if result is not None:
            h = result.handset
            lines.append(f"Handset **{h.id}** {h.model}, serial {h.serial or '-'}, SIM {h.sim or 'none'}.")
        if check.message:
            lines.append(check.message)
        return "\n\n".join(lines)

    def _attach(self, name: str, content: str | bytes, mime: str, ext: str) -> Attachment:
        source = f"{uuid.uuid4()}-attachment.{ext}"
        if isinstance(content, str):
            self.folder.write_text(f"{RESULTS_DIR}/{source}", content)
        else:
            self.folder.write_bytes(f"{RESULTS_DIR}/{source}", content)
        return Attachment(name=name, source=source, type=mime)

    def _finding_attachments(self, finding: FindingRecord) -> list[Attachment]:
        what = f"{finding.kind} → {finding.host}"
        out = [self._attach(f"request: {what}", request_text(finding), "text/plain", "txt")]
        if finding.body:
            title = f"decoded {finding.body_where or 'value'}: {what} at {finding.location}"
            out.append(self._attach(title, highlighted_html(title, finding.body), "text/html", "html"))
        if finding.logcat:
            out.append(self._attach(f"logcat around the flow: {what}", "\n".join(finding.logcat) + "\n",
                                    "text/plain", "txt"))
        if finding.screenshot:
            shot = self.folder.path(finding.screenshot)
            if shot.is_file():
                ext = shot.suffix.lstrip(".").lower() or "png"
                mime = {"jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(ext, f"image/{ext}")
                out.append(self._attach(f"screen at that moment: {what}", shot.read_bytes(), mime, ext))
        return out


def destinations_csv(result: HandsetResult) -> str:
    """The destinations table, as Allure shows a CSV attachment (a table)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["host", "ip", "protocol", "ports", "connections", "bytes up", "bytes down", "first contact s",
                     "median interval s", "identifiers", "approved", "seen", "accepted blind because"])
    for d in result.destinations:
        writer.writerow([d.host, d.ip, d.protocol, " ".join(map(str, d.ports)), d.connections, d.bytes_up,
                         d.bytes_down, "" if d.first_contact_s is None else d.first_contact_s,
                         "" if d.median_interval_s is None else d.median_interval_s, " ".join(d.identifiers),
                         "yes" if d.approved else "no", d.seen, d.blind_reason])
    return out.getvalue()


def request_text(finding: FindingRecord) -> str:
    """The request that carried a finding, as a reader wants it: what, where, which app, how."""
    request = finding.request
    lines = [f"{finding.method or (request.method if request else '')} {request.url if request else finding.url}",
             f"app:        {finding.app or '(unknown)'}",
             f"transport:  {'TLS (decrypted by the lab proxy)' if finding.tls else 'plain text, readable on the wire'}",
             f"identifier: {finding.kind} {finding.identifier}",
             f"where:      {finding.location}",
             f"decoders:   {' > '.join(finding.decoders) or '(as sent)'}",
             f"flow:       {finding.flow_index} of {finding.source}"]
    if finding.time is not None:
        lines.append(f"time:       {finding.time.isoformat()}")
    if request is not None and request.headers:
        lines += ["", *(f"{name}: {value}" for name, value in request.headers)]
    return "\n".join(lines) + "\n"


def _representatives(result: HandsetResult, indexes: tuple[int, ...]) -> list[FindingRecord]:
    """One finding per (host, kind, place, app, transport), at most MAX_ATTACHED_FINDINGS."""
    seen: set[tuple[str, str, str, str | None, bool]] = set()
    out: list[FindingRecord] = []
    for i in indexes:
        f = result.findings[i]
        key = (f.host, f.kind, f.location, f.app, f.tls)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out[:MAX_ATTACHED_FINDINGS]
