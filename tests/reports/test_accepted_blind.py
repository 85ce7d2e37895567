"""Accepted blind spots: the traffic a policy accepts unread by name has its own section, with its
reason, in every report format (verdict.json, report.html, JUnit, Allure)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from devicelab.model.traffic import Flow, Request
from devicelab.reports.allure_results import AllureWriter
from devicelab.reports.collect import handset_result
from devicelab.reports.html import to_html
from devicelab.reports.junit import to_junit
from devicelab.reports.output import ReportFolder
from devicelab.reports.verdict_json import to_dict
from tests.analysis import helpers as ah
from tests.reports import helpers as h

REASON = "pins its server key"


def _pinned_run(extra_host: str = "") -> Any:
    flows = [h.checkin_flow(1)]
    for index, host in enumerate(["push.hmdglobal.com", extra_host], start=2):
        if host:
            request = Request(method="", scheme="tcp", host=host, port=443, path="")
            flows.append(Flow(source="live", index=index, id=f"p{index}", request=request, tls=False,
                              protocol="tcp", undecrypted_tls=True))
    report = h.scan_flows(flows, ah.identity(), h.global_policy())
    return h.run_record([handset_result(h.nokia_handset(), report, h.redactor())])


def test_an_accepted_blind_spot_passes_and_is_listed_with_its_reason_everywhere(tmp_path: Path) -> None:
    run = _pinned_run()
    assert run.outcome == "pass"
    (accepted,) = to_dict(run)["handsets"][0]["coverage"]["accepted_blind"]
    assert (accepted["kind"], accepted["host"]) == ("tls_undecrypted", "push.hmdglobal.com")
    assert REASON in accepted["reason"]
    html = to_html(run)
    assert "Accepted blind spots" in html and REASON in html
    root = ET.fromstring(to_junit(run))
    out = [c.findtext("system-out") or "" for c in root.iter("testcase") if c.get("name", "").startswith("coverage")]
    assert out and "ACCEPTED BLIND" in out[0] and REASON in out[0]
    AllureWriter(run, ReportFolder(tmp_path, h.redactor())).write()
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure-results").glob("*-result.json")]
    (coverage,) = [r for r in results if r["name"].startswith("coverage")]
    assert coverage["status"] == "passed"
    assert REASON in coverage["statusDetails"]["trace"]


def test_unread_tls_to_an_approved_host_without_accept_blind_is_inconclusive() -> None:
    run = _pinned_run("www.google.com")
    assert run.outcome == "inconclusive"
    gaps = run.handsets[0].coverage.counted_gaps
    assert [(g.kind, g.host) for g in gaps] == [("tls_undecrypted", "www.google.com")]
    assert "no: accepted blind spot" in to_html(run)


def test_identity_warnings_reach_every_report_format(tmp_path: Path) -> None:
    warning = "imei: the lab lists 353918051234561 but the handset reports 490154203237518; both are searched"
    report = h.scan_flows([h.checkin_flow(1)], ah.identity(), h.global_policy())
    result = handset_result(h.nokia_handset(), report, h.redactor(), identity_warnings=[warning])
    run = h.run_record([result])
    (stored,) = to_dict(run)["handsets"][0]["identity_warnings"]
    assert stored.startswith("imei: the lab lists")
    assert "490154203237518" not in stored  # scrubbed: the handset's IMEI is an identifier under test
    assert "Identity warnings" in to_html(run)
    root = ET.fromstring(to_junit(run))
    (case,) = [c for c in root.iter("testcase") if c.get("name", "").startswith("identity")]
    assert "IDENTITY WARNING" in (case.findtext("system-out") or "")
    AllureWriter(run, ReportFolder(tmp_path, h.redactor())).write()
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure-results").glob("*-result.json")]
    (identity,) = [r for r in results if r["name"].startswith("identity")]
    assert "the lab lists" in identity["statusDetails"]["trace"]
