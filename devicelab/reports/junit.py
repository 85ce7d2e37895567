"""JUnit XML: one testsuite per handset, one testcase per check.

    fail          <failure type="personal-data">   the violations as a text table
    inconclusive  <failure type="inconclusive">    not <skipped>: Jenkins, GitLab, GitHub test
                                                   reporters and Azure DevOps all count skipped tests
                                                   as green, and inconclusive must never look green
    lab error     <error type="AdbError">          infrastructure, one testcase per failed step
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC

from devicelab.reports.checks import RUN_SCOPE, Check, run_checks
from devicelab.reports.model import RunRecord

JUNIT_FILE = "junit.xml"
#: Characters XML 1.0 cannot carry at all, even escaped (hostile traffic ends up in messages).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(root: ET.Element) -> None:
    for element in root.iter():
        if element.text:
            element.text = _NOT_XML.sub("\ufffd", element.text)
        for key, value in element.attrib.items():
            element.attrib[key] = _NOT_XML.sub("\ufffd", value)


def _suite_name(run: RunRecord, handset: str) -> str:
    return f"{run.build.name} on {handset}" if handset != RUN_SCOPE else f"{run.build.name}: lab"


def _testcase(parent: ET.Element, check: Check, classname: str) -> None:
    # A product check is an evaluation (no time of its own); a lab check took as long as its step.
    seconds = sum(s.seconds or 0.0 for s in check.steps) if check.id.startswith("lab:") else 0.0
    case = ET.SubElement(parent, "testcase", name=check.name, classname=classname, time=f"{seconds:.3f}")
    if check.status == "failed":
        ET.SubElement(case, "failure", type=check.id, message=check.message).text = check.details or check.message
    elif check.status == "inconclusive":
        ET.SubElement(case, "failure", type="inconclusive", message=check.message).text = (
            check.details or check.message)
    elif check.status == "error":
        ET.SubElement(case, "error", type=check.infra_type or "not-judged", message=check.message).text = (
            check.details or check.message)
    elif check.message:  # a pass that says something (accepted blind spots, identity warnings)
        ET.SubElement(case, "system-out").text = f"{check.message}\n\n{check.details}".strip()


def _counts(checks: Sequence[Check]) -> dict[str, str]:
    return {
        "tests": str(len(checks)),
        "failures": str(sum(c.status in ("failed", "inconclusive") for c in checks)),
        "errors": str(sum(c.status == "error" for c in checks)),
        "skipped": "0",
    }


def to_junit(run: RunRecord) -> str:
    """The run as JUnit XML (the schema Jenkins, GitLab and GitHub reporters read)."""
    checks = run_checks(run)
    root = ET.Element("testsuites", {"name": f"devicelab privacy gate: {run.build.name}", **_counts(checks)})
    handsets = [r.handset.id for r in run.handsets]
    scopes = handsets + sorted({c.handset for c in checks} - set(handsets))
    for scope in scopes:
        mine = [c for c in checks if c.handset == scope]
        if not mine:
            continue
        attrs = {"name": _suite_name(run, scope), **_counts(mine)}
        if run.started is not None:
            # JUnit's schema wants a local time without offset: write UTC
            attrs["timestamp"] = run.started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        suite = ET.SubElement(root, "testsuite", attrs)
        properties = ET.SubElement(suite, "properties")
        info = next((r.handset for r in run.handsets if r.handset.id == scope), None)
        facts = {"run": run.run_id, "build": run.build.name, "fingerprint": run.build.fingerprint,
                 "policy": run.policy.name, "handset": scope,
                 "outcome": run.outcome_of(scope) if info else run.outcome}
        if run.from_build is not None:
            facts["from_build"] = run.from_build.name
        if info is not None:
            facts |= {"model": info.model, "sim": info.sim, "host": info.host}
        for name, value in facts.items():
            if value:
                ET.SubElement(properties, "property", name=name, value=value)
        classname = f"devicelab.{run.build.name}.{scope}".replace(" ", "_")
        for check in mine:
            _testcase(suite, check, classname)
        evidence = [f.path for f in run.evidence if f.handset in (scope, "")]
        if evidence:
            ET.SubElement(suite, "system-out").text = "evidence:\n" + "\n".join(f"  {p}" for p in evidence)
    _xml_safe(root)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
