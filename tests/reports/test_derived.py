"""A differential run's `identity_derived` findings in the reports: their own HTML section, in
verdict.json with the evidence, redacted everywhere, and known to `devicelab diff`."""

from __future__ import annotations

import json

from devicelab.analysis.differential import derive, findings_for, with_derived
from devicelab.model.policy import ApprovedHost, Policy
from devicelab.reports.collect import handset_result
from devicelab.reports.diff import DIFFERENTIAL_NOTE, diff_runs, new_pairs, to_text
from devicelab.reports.html import to_html
from devicelab.reports.model import HandsetInfo, RunRecord
from devicelab.reports.redaction import Redactor
from devicelab.reports.verdict_json import to_json
from tests.analysis.test_differential import HANDSETS, aes_b64, traffic
from tests.reports import helpers as h

POLICY = Policy(name="lab", approved=(ApprovedHost(host="*.hmdglobal.com", may_receive=("imei",)),
                                      ApprovedHost(host="sdk.example", may_receive=("serial",))))


def records(differential: bool) -> RunRecord:
    traffics = [traffic("a"), traffic("b")]
    derived = derive(traffics) if differential else []
    results = []
    values = [v.decode() for d in derived for v in d.values.values()]
    redactor = Redactor(HANDSETS.values(), values)
    for t in traffics:
        report = h.scan_flows(t.flows, HANDSETS[t.name], POLICY)
        report = with_derived(report, findings_for(t, derived), POLICY)
        results.append(handset_result(HandsetInfo(id=t.name, model="Nokia 7 plus"), report, redactor))
    run = h.run_record(results, run_id="diff" if differential else "plain")
    return run.model_copy(update={"notes": (f"{DIFFERENTIAL_NOTE} 2 handsets",) if differential else ()})


def test_verdict_json_carries_the_findings_and_their_violations() -> None:
    verdict = json.loads(to_json(records(True)))
    found = [f for hs in verdict["handsets"] for f in hs["findings"] if f["kind"] == "identity_derived"]
    assert {(f["host"], f["location"]) for f in found} == {("t.analytics.example", "body > json:d"),
                                                           ("sdk.example", "body > json:h")}
    rules = {(v["host"], v["rule"].split(":")[0]) for hs in verdict["handsets"] for v in hs["violations"]}
    assert ("t.analytics.example", "identity-derived") in rules
    assert not any(host == "sdk.example" for host, _ in rules)  # approved for identifiers: shown, not a violation
    assert verdict["outcome"] == "fail"


def test_the_html_report_has_a_derived_identifiers_section_and_no_clear_value() -> None:
    html = to_html(records(True))
    assert 'id="derived"' in html
    assert "Derived identifiers" in html
    assert "shown, allowed" in html  # sdk.example
    for imei in ("490154203237518", "353911100423419"):
        assert aes_b64(imei) not in html
    assert 'id="derived"' not in to_html(records(False))


def test_diff_labels_the_kind_and_compares_it_between_differential_runs_only() -> None:
    plain, differential = records(False), records(True)
    text = to_text(diff_runs(plain, differential))
    assert "identity_derived (follows the identity, encoding unknown)" in text
    assert "only the run was differential" in text
    assert not any(p.kind == "identity_derived" for p in new_pairs(plain, differential))
    assert {p.host for p in new_pairs(differential.model_copy(update={"handsets": ()}), differential)
            if p.kind == "identity_derived"} == {"t.analytics.example", "sdk.example"}
