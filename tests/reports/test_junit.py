from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from devicelab.reports.junit import to_junit
from devicelab.reports.model import HandsetResult, InfraError, Step
from tests.reports import helpers as h


def _cases(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(suite.get("name", ""), case.get("name", "")): case
            for suite in root.iter("testsuite") for case in suite.iter("testcase")}


def test_junit_of_the_leak_fails_the_privacy_checks(out: Path) -> None:
    root = ET.parse(out / "junit.xml").getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("6", "3", "0", "0")
    cases = _cases(root)
    leak = cases[("nokia7plus-00WW_3_22C on b2n-01", "privacy: no unapproved personal data")]
    failure = leak.find("failure")
    assert failure is not None
    assert failure.get("type") == "personal-data"
    assert failure.get("message", "").startswith("LEAK: ")
    assert "zzhc.vnet.cn" in failure.get("message", "")
    table = failure.text or ""
    assert table.splitlines()[0].split() == ["KIND", "VALUE", "HOST", "WHERE", "TRANSPORT", "APP", "FLOWS",
                                             "BROKEN", "RULES"]
    assert "body > base64 > json:SIM1ICCID" in table
    assert "forbidden-host, plain-text" in table
    assert "China Telecom self-registration" in table
    forbidden = cases[("nokia7plus-00WW_3_22C on b2n-01", "privacy: no forbidden host contacted")].find("failure")
    assert forbidden is not None
    assert forbidden.get("message", "").startswith("FORBIDDEN HOST: zzhc.vnet.cn")
    coverage = cases[("nokia7plus-00WW_3_22C on b2n-01", "coverage: all traffic inspected")]
    assert len(coverage) == 0  # passed
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["policy"] == "global"
    assert props["build"] == "nokia7plus-00WW_3_22C"


def test_lab_errors_are_errors_and_inconclusive_is_a_failure_not_a_skip() -> None:
    inconclusive = h.handset_result(h.nokia_handset("b2n-01"),
                                    h.scan_flows([], h.ah.identity(), h.global_policy()), h.redactor())
    broken = HandsetResult(handset=h.nokia_handset("b2n-02"), judged=False)
    errors = [InfraError(type="FastbootError", handset="b2n-02", step="flash", message="FAILED (remote: no)"),
              InfraError(type="LeaseTimeoutError", message="no handset of model B2N came free in 600 s")]
    timeline = (*h.steps("b2n-01"), *h.steps("b2n-02", failed="flash"),
                Step(name="collect logs", handset="b2n-01", start=h.T0, status="failed", message="adb pull failed"))
    root = ET.fromstring(to_junit(h.run_record([inconclusive, broken], infra_errors=errors, timeline=timeline)))
    # b2n-01: coverage inconclusive (failure) + a failed step without an error (error);
    # b2n-02: three checks not judged + the flash error; the run: the lease error.
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("9", "1", "6", "0")
    cases = _cases(root)
    gap = cases[("nokia7plus-00WW_3_22C on b2n-01", "coverage: all traffic inspected")].find("failure")
    assert gap is not None
    assert gap.get("type") == "inconclusive"
    assert gap.get("message", "").startswith("INCONCLUSIVE")
    assert root.find(".//skipped") is None
    flash = cases[("nokia7plus-00WW_3_22C on b2n-02", "lab: flash")].find("error")
    assert flash is not None
    assert flash.get("type") == "FastbootError"
    assert "FAILED" in flash.get("message", "")
    assert float(cases[("nokia7plus-00WW_3_22C on b2n-02", "lab: flash")].get("time", "")) == 42.0
    judged = cases[("nokia7plus-00WW_3_22C on b2n-02", "privacy: no unapproved personal data")].find("error")
    assert judged is not None
    assert judged.get("message", "").startswith("NOT JUDGED")
    lease = cases[("nokia7plus-00WW_3_22C: lab", "lab: LeaseTimeoutError")].find("error")
    assert lease is not None
    collect = cases[("nokia7plus-00WW_3_22C on b2n-01", "lab: collect logs")].find("error")
    assert collect is not None
    assert "adb pull failed" in collect.get("message", "")


def test_hostile_text_still_makes_valid_xml() -> None:
    errors = [InfraError(type="AdbError", handset="b2n-01", step="first boot",
                         message="got \x00\x07 bytes <script>alert(1)</script> & \ud800 more")]
    xml = to_junit(h.run_record([h.nokia_result()], infra_errors=errors))
    root = ET.fromstring(xml)
    error = next(e for e in root.iter("error"))
    assert "<script>alert(1)</script> &" in error.get("message", "")
    assert "\x00" not in error.get("message", "")
