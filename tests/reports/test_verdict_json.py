from __future__ import annotations

import json
from pathlib import Path

import pytest

from devicelab.errors import ConfigError
from devicelab.reports.verdict_json import from_dict, read_run, to_dict, to_json
from devicelab.reports.writer import Written


def test_verdict_json_round_trips(written: Written, out: Path) -> None:
    assert read_run(out) == written.run
    assert read_run(out / "verdict.json") == written.run


def test_verdict_json_spells_out_the_verdicts(out: Path) -> None:
    data = json.loads((out / "verdict.json").read_text())
    assert (data["record"], data["version"], data["outcome"], data["exit_code"]) == ("devicelab-run", 1, "fail", 1)
    assert [(hs["handset"]["id"], hs["outcome"]) for hs in data["handsets"]] == [("b2n-01", "fail"), ("emu-01", "fail")]
    assert data["build"]["name"] == "nokia7plus-00WW_3_22C"
    assert data["policy"]["name"] == "global"
    assert data["evidence"]
    assert all(e["path"].startswith("evidence/") for e in data["evidence"])


def test_written_outcomes_are_recomputed_not_trusted(written: Written) -> None:
    data = to_dict(written.run)
    data["outcome"] = "pass"
    data["handsets"][0]["outcome"] = "pass"
    assert from_dict(data, "edited").outcome == "fail"


@pytest.mark.parametrize(("content", "problem"), [
    ("not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"record": "other"}', "not a devicelab run record"),
])
def test_bad_files_are_one_clear_error(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "verdict.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=problem):
        read_run(tmp_path)


def test_a_bad_field_is_named(tmp_path: Path, written: Written) -> None:
    data = to_dict(written.run)
    data["handsets"][0]["findings"][0]["tls"] = "sometimes"
    (tmp_path / "verdict.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"handsets\.0\.findings\.0\.tls"):
        read_run(tmp_path)


def test_a_folder_without_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a devicelab run"):
        read_run(tmp_path)
    with pytest.raises(ConfigError, match="file not found"):
        read_run(tmp_path / "missing.json")


def test_to_json_is_stable_text(written: Written) -> None:
    text = to_json(written.run)
    assert to_json(from_dict(json.loads(text), "text")) == text
