"""Run folders: a previous run is never overwritten by accident (it may be someone's baseline),
and each run by default gets a folder of its own, with `latest` pointing at it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devicelab.errors import ConfigError
from devicelab.gate.options import GateOptions, clear_run_folder, link_latest, run_folder
from devicelab.model.builds import load_build

BUILD = load_build("nokia7plus-00WW_3_22C_SP05")


def previous_run(folder: Path) -> Path:
    (folder / "evidence" / "virtual-0").mkdir(parents=True)
    (folder / "verdict.json").write_text('{"record": "devicelab-run"}')
    (folder / "evidence" / "virtual-0" / "old.jsonl").write_text("{}")
    return folder


def test_a_previous_run_is_refused_without_force_and_left_as_it_was(tmp_path: Path) -> None:
    out = previous_run(tmp_path / "baseline")
    proc = subprocess.run([sys.executable, "-m", "devicelab", "gate", "--build", BUILD.name, "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert "--out: holds a previous run: pass --force to replace it" in proc.stderr
    assert (out / "verdict.json").read_text() == '{"record": "devicelab-run"}'


def test_force_replaces_the_whole_previous_run(tmp_path: Path) -> None:
    out = previous_run(tmp_path / "run")
    assert run_folder(GateOptions(build=BUILD.name, out=out, force=True), BUILD, "r2") == out
    clear_run_folder(out)
    assert not out.exists()  # no stale evidence of the old run beside the new one


def test_a_folder_of_other_files_is_never_a_run_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="other files in it"):
        run_folder(GateOptions(build=BUILD.name, out=tmp_path, force=True), BUILD, "r1")


def test_by_default_each_run_has_its_own_folder_and_latest_follows(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = run_folder(GateOptions(build=BUILD.name), BUILD, "20261206-1-aaaaaa")
    second = run_folder(GateOptions(build=BUILD.name), BUILD, "20261206-2-bbbbbb")
    assert first != second
    assert first.parent == second.parent == Path("reports") / f"gate-{BUILD.name}"
    for run in (first, second):
        run.mkdir(parents=True)
        link_latest(run)
    assert (first.parent / "latest").resolve() == second.resolve()
