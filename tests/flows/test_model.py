"""Wizard flow data: the shipped files load, builds find their flow, bad data is one ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from devicelab.errors import ConfigError
from devicelab.flows.model import FLOWS_DIR, flow_for_fingerprint, load_flow_file, load_flows
from devicelab.model.builds import load_build

GOOD = """\
family: tiny
fingerprints: ["Acme/*"]
home: {package: com.acme.launcher}
screens:
  - id: welcome
    match: {package: com.acme.setup, ids: [start]}
    steps:
      - click: {id: start}
"""


def write(folder: Path, text: str, name: str = "tiny") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_flows_load_with_the_shared_popups() -> None:
    flows = {flow.family: flow for flow in load_flows(FLOWS_DIR)}
    assert set(flows) == {"android-one-9", "hmd-china-9"}
    for flow in flows.values():
        assert {p.id for p in flow.popups} >= {"app_not_responding", "system_update", "checking_for_updates"}
        assert "com.android.systemui" in flow.system_windows
    google = {t.name for t in flows["android-one-9"].toggles()}
    assert google == {"location", "scanning", "auto_updates", "usage_diagnostics", "hmd_improve", "hmd_analytics"}
    assert next(t for t in flows["hmd-china-9"].toggles() if t.name == "privacy_agreed").fixed is True


@pytest.mark.parametrize(("build", "family"), [
    ("nokia7plus-00WW_3_22C", "android-one-9"),
    ("nokia7plus-00WW_3_22C_SP05", "android-one-9"),
    ("nokia7plus-00WW_3_22C-userdebug", "android-one-9"),
    ("nokia7plus-00CN_3_340", "hmd-china-9"),
])
def test_every_shipped_build_has_a_flow(build: str, family: str) -> None:
    assert flow_for_fingerprint(load_build(build).fingerprint).family == family


def test_an_unknown_build_is_named() -> None:
    with pytest.raises(ConfigError, match=r"no flow matches build fingerprint 'Acme/x/y:9'"):
        flow_for_fingerprint("Acme/x/y:9")


def test_a_good_file_loads(tmp_path: Path) -> None:
    flow = load_flow_file(write(tmp_path, GOOD))
    assert flow.screens[0].steps[0].click.id == "start"
    assert flow.popups == ()


@pytest.mark.parametrize(("change", "field", "problem"), [
    (("family: tiny", "family: tiny\ndescripton: typo"), "descripton", "unknown field"),
    (("click: {id: start}", "click: {}"), "screens.0.steps.0.click", "needs an id, a text or a desc"),
    (("click: {id: start}", "click: {text: '{ssid}'}"), "screens.0.steps.0.click.text", "unknown placeholder"),
    (("    steps:\n      - click: {id: start}\n", "    steps: []\n"), "screens.0", "at least one step"),
    (("match: {package: com.acme.setup, ids: [start]}", "match: {absent_ids: [x]}"), "screens.0.match",
     "needs a package, ids or texts"),
    (("family: tiny", "family: Tiny"), "family", "should match pattern"),
    (("fingerprints: [\"Acme/*\"]", "fingerprints: []"), "fingerprints", "at least 1 item"),
    (("  - id: welcome\n", "  - id: welcome\n    kind: wait\n"), "screens.0", "a wait screen passes by itself"),
    (("      - click: {id: start}\n", "      - click: {id: start}\n        when: {wifi: maybe}\n"),
     "screens.0.steps.0.when.wifi", "valid boolean"),
])
def test_bad_flow_data_is_one_config_error(tmp_path: Path, change: tuple[str, str], field: str,
                                           problem: str) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_flow_file(path)
    assert info.value.path.startswith(str(path))
    assert info.value.field == field
    assert problem in info.value.problem


def test_yaml_on_off_keys_are_caught(tmp_path: Path) -> None:
    """YAML 1.1 reads `on:` as True: a setting written that way must not pass silently."""
    text = GOOD.replace("    steps:", "    toggles:\n      - name: x\n        target: {id: x}\n"
                        "        settings: [{namespace: global, key: k, on: '1'}]\n    steps:")
    with pytest.raises(ConfigError, match=r"screens\.0\.toggles\.0\.settings\.0"):
        load_flow_file(write(tmp_path, text))


def test_duplicate_screens_and_misplaced_popups(tmp_path: Path) -> None:
    twice = GOOD + "  - id: welcome\n    match: {package: x}\n    steps: [{click: {id: y}}]\n"
    with pytest.raises(ConfigError, match="screen 'welcome' is listed twice"):
        load_flow_file(write(tmp_path, twice))
    own_popups = GOOD + "popups: []\n"
    with pytest.raises(ConfigError, match=r"popups: shared pop-ups belong in popups.yaml"):
        load_flow_file(write(tmp_path, own_popups.replace("popups: []", "popups:\n  - id: p\n    kind: popup\n"
                                                          "    match: {package: x}\n    steps: [{click: {id: y}}]")))


def test_family_must_match_the_file_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is 'tiny' but the file is named 'other'"):
        load_flow_file(write(tmp_path, GOOD, name="other"))


def test_bad_shared_popups_are_reported_with_their_file(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    (tmp_path / "popups.yaml").write_text("popups:\n  - id: p\n    kind: page\n    match: {package: x}\n"
                                          "    steps: [{click: {id: y}}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_flows(tmp_path)
    assert info.value.path.endswith("popups.yaml")
    assert "pop-ups are of kind popup or wait" in info.value.problem
