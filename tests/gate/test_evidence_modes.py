"""--evidence redacted: a run folder a CI system may store, with no raw identifier in any file."""

from __future__ import annotations

import json
from pathlib import Path

from devicelab.lab.lab import Lab
from tests.gate.test_gate import gate
from tests.gate.test_suites import raw_identifiers


def test_a_redacted_run_folder_holds_no_identifier_and_says_what_it_left_out(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "ci"
    code, verdict, output = gate(out, "--build", "nokia7plus-00WW_3_22C", "--sim", "telenor-no", "--evidence",
                                 "redacted")
    assert code == 1, output  # the verdict does not change
    values = raw_identifiers(lab)
    files = [p for p in out.rglob("*") if p.is_file()]
    leaked = {(p.name, v) for p in files for v in values if v.encode() in p.read_bytes()}
    assert leaked == set()
    manifest = json.loads((out / "evidence" / "MANIFEST.json").read_text())
    assert any("logcat" in f["path"] for f in manifest["files"])  # kept, scrubbed
    assert any(r.startswith("evidence.jsonl: left out of a redacted bundle") for r in manifest["refused"])
    assert verdict["handsets"][0]["findings"]
