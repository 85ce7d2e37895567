"""Real captures (ReportHAR, MIT; see data/README.md) against their per-request labels.

The labels were derived by exact-value search (URL, headers, body, URL-decoded). The analysis also
looks for Base64, hex, UTF-16 and MD5/SHA-1/SHA-256 forms and decodes JSON, forms and compression,
so it could find more than the labels; on these captures it finds exactly the labelled requests,
for the advertising ID and for the three other identifiers the label file lists (checked by hand:
the only places are plain JSON values, form fields and the `advertiser_id` query parameter).
"""

from __future__ import annotations

import json

import pytest

from devicelab.analysis.readers import read_capture
from devicelab.analysis.scan import Analyzer
from devicelab.model.identity import Identity
from tests.analysis.helpers import DATA

LABELS = json.loads((DATA / "reporthar_android_expected_identifiers.json").read_text())
AAID_LABEL = "advertising_id(GAID)"
FILES = sorted(LABELS["files"])


def _labelled(name: str, label: str) -> list[int]:
    return [entry["index"] for entry in LABELS["files"][name] if label in entry["identifiers_present"]]


@pytest.mark.parametrize("name", FILES)
def test_advertising_id_flags_exactly_the_labelled_requests(name: str) -> None:
    analyzer = Analyzer(Identity(advertising_id=[LABELS["identifiers"][AAID_LABEL]]))  # type: ignore[arg-type]
    capture = read_capture(DATA / name)
    assert len(capture.flows) == len(LABELS["files"][name])
    flagged = [flow.index for flow in capture.flows if analyzer.analyze(flow).findings]
    assert flagged == _labelled(name, AAID_LABEL)
    assert flagged  # the labels are not empty: the comparison means something


@pytest.mark.parametrize("name", FILES)
def test_every_labelled_identifier_is_found_where_labelled(name: str) -> None:
    # every label value is a UUID (the Facebook anon_id after its "XZ" prefix): search them as UUIDs
    values = {label: value.removeprefix("XZ") for label, value in LABELS["identifiers"].items()}
    analyzer = Analyzer(Identity(advertising_id=list(values.values())))  # type: ignore[arg-type]
    by_value = {value: label for label, value in values.items()}
    found: dict[int, set[str]] = {}
    for flow in read_capture(DATA / name).flows:
        found[flow.index] = {by_value[f.identifier] for f in analyzer.analyze(flow).findings}
    expected = {entry["index"]: set(entry["identifiers_present"]) for entry in LABELS["files"][name]}
    assert found == expected
