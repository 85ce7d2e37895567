from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devicelab.reports.allure_results import CATEGORIES, AllureWriter, property_escape
from devicelab.reports.model import HandsetResult, InfraError
from devicelab.reports.output import ReportFolder
from tests.reports import helpers as h


def _results(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*-result.json"))]


def test_one_result_per_handset_and_check_with_parameters(out: Path) -> None:
    results = _results(out / "allure-results")
    assert len(results) == 6
    for result in results:
        assert {"uuid", "name", "fullName", "historyId", "testCaseId", "status", "stage", "labels",
                "parameters", "start", "stop"} <= result.keys()
        params = {p["name"]: p for p in result["parameters"]}
        assert set(params) == {"handset", "build", "policy"}
        assert params["build"]["value"] == "nokia7plus-00WW_3_22C"
        assert params["build"]["excluded"] is True
        assert params["policy"]["value"] == "global"
        labels = {(label["name"], label["value"]) for label in result["labels"]}
        assert ("suite", "nokia7plus-00WW_3_22C") in labels
        assert ("subSuite", params["handset"]["value"]) in labels
    by_key = {(r["parameters"][0]["value"], r["name"]): r for r in results}
    leak = by_key[("b2n-01", "privacy: no unapproved personal data")]
    assert leak["status"] == "failed"
    assert leak["statusDetails"]["message"].startswith("LEAK:")
    assert "json:SIM1ICCID" in leak["statusDetails"]["trace"]
    assert [s["name"] for s in leak["steps"]][:3] == ["lease", "flash", "factory reset"]
    assert by_key[("b2n-01", "coverage: all traffic inspected")]["status"] == "passed"
    # history follows a check on a handset across builds
    assert len({r["historyId"] for r in results}) == 6


def test_findings_are_attached_request_body_logcat_and_screenshot(out: Path) -> None:
    results = _results(out / "allure-results")
    leak = next(r for r in results if r["name"] == "privacy: no unapproved personal data"
                and r["parameters"][0]["value"] == "b2n-01")
    attachments = leak["attachments"]
    names = [a["name"] for a in attachments]
    assert any(n.startswith("request: imei → zzhc.vnet.cn") for n in names)
    for attachment in attachments:
        assert (out / "allure-results" / attachment["source"]).is_file()
    body = next(a for a in attachments if a["type"] == "text/html")
    html = (out / "allure-results" / body["source"]).read_text()
    assert '<mark>⟦iccid' in html
    assert "HMD-TA-1062" in html
    request = next(a for a in attachments if a["name"].startswith("request:"))
    text = (out / "allure-results" / request["source"]).read_text()
    assert text.startswith("POST http://zzhc.vnet.cn/")
    assert "app:        com.evenwell.autoregistration" in text
    assert "plain text" in text
    assert any(a["type"] == "text/plain" and a["name"].startswith("logcat") for a in attachments)
    shot = next(a for a in attachments if a["type"] == "image/png")
    assert (out / "allure-results" / shot["source"]).read_bytes() == h.PNG_1PX


def test_categories_separate_product_failures_from_the_lab(out: Path) -> None:
    categories = json.loads((out / "allure-results" / "categories.json").read_text())
    assert [c["name"] for c in categories] == ["Personal data leak", "Forbidden host contacted",
                                               "Coverage incomplete", "Lab infrastructure"]
    assert categories == CATEGORIES
    product = [c for c in categories if c["name"] != "Lab infrastructure"]
    assert all(c["matchedStatuses"] == ["failed"] for c in product)
    assert categories[-1]["matchedStatuses"] == ["broken"]


def test_statuses_and_messages_match_their_categories(tmp_path: Path) -> None:
    import re

    inconclusive = h.handset_result(h.nokia_handset("b2n-01"), h.scan_flows([], h.ah.identity(), h.global_policy()),
                                    h.redactor())
    broken = HandsetResult(handset=h.nokia_handset("b2n-02"), judged=False)
    run = h.run_record([inconclusive, broken],
                       infra_errors=[InfraError(type="FastbootError", handset="b2n-02", step="flash", message="no")])
    AllureWriter(run, ReportFolder(tmp_path, h.redactor())).write()
    results = _results(tmp_path / "allure-results")

    def category(result: dict[str, Any]) -> str | None:
        message = result.get("statusDetails", {}).get("message", "")
        for c in CATEGORIES:
            if result["status"] in c["matchedStatuses"] and re.fullmatch(c["messageRegex"], message):
                return str(c["name"])
        return None

    seen = {(r["parameters"][0]["value"], r["name"]): (r["status"], category(r)) for r in results}
    assert seen[("b2n-01", "coverage: all traffic inspected")] == ("failed", "Coverage incomplete")
    assert seen[("b2n-02", "lab: flash")] == ("broken", "Lab infrastructure")
    assert seen[("b2n-02", "privacy: no unapproved personal data")] == ("broken", "Lab infrastructure")
    assert seen[("b2n-01", "privacy: no unapproved personal data")] == ("passed", None)


def test_environment_properties(out: Path) -> None:
    lines = (out / "allure-results" / "environment.properties").read_text().splitlines()
    facts = dict(line.split("=", 1) for line in lines)
    assert facts["build"] == "nokia7plus-00WW_3_22C"
    assert facts["policy"] == "global"
    assert facts["handset.b2n-01"] == "Nokia 7 Plus (TA-1062), SIM telenor-no, lab-usb-1"
    assert facts["build.fingerprint"].startswith("Nokia/Onyx_00WW/B2N_sprout\\:9/")
    executor = json.loads((out / "allure-results" / "executor.json").read_text())
    assert executor["buildName"] == "run-1"


def test_property_escape_is_java_properties() -> None:
    assert property_escape("a=b:c#d\nx") == "a\\=b\\:c\\#d\\nx"
    assert property_escape("自注册") == "\\u81ea\\u6ce8\\u518c"
    assert property_escape("key with space", key=True) == "key\\ with\\ space"


def test_rewriting_a_folder_replaces_the_earlier_results(tmp_path: Path) -> None:
    run = h.run_record([h.nokia_result()])
    folder = ReportFolder(tmp_path, h.redactor())
    AllureWriter(run, folder).write()
    AllureWriter(run, folder).write()
    assert len(_results(tmp_path / "allure-results")) == 3
