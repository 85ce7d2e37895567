"""Parsing dumped hierarchies: both dialects real handsets return, and garbage refused."""

from __future__ import annotations

import pytest

from devicelab.handset.hierarchy import HierarchyError, parse

from .helpers import real_dump, recording


def test_uiautomator_dialect_splits_windows_top_first() -> None:
    dialog_over_page = recording("android-one-nosim-decline")[3].xml  # "Set up offline?" over Wi-Fi
    snapshot = parse(dialog_over_page)
    packages = [w.package for w in snapshot.windows]
    assert packages == ["com.google.android.setupwizard"] * 2 + ["com.android.systemui"] * 2
    top = snapshot.windows[0]
    assert any(n.resource_id == "android:id/alertTitle" and n.text == "Set up offline?" for n in top.nodes)
    button = next(n for n in top.nodes if n.resource_id == "android:id/button1")
    assert (button.text, button.clickable, button.enabled) == ("Continue", True, True)
    left, top_edge, right, bottom = button.bounds
    assert button.center == ((left + right) // 2, (top_edge + bottom) // 2)


def test_appium_dialect_of_a_real_anr_dialog() -> None:
    snapshot = parse(real_dump("shirates_AppIsNotResponding").xml)
    assert len(snapshot.windows) == 1
    nodes = {n.resource_id: n for n in snapshot.windows[0].nodes if n.resource_id}
    assert nodes["android:id/alertTitle"].text == "Settings isn't responding"
    assert nodes["android:id/aerr_wait"].bounds == (72, 1148, 1008, 1280)
    assert nodes["android:id/aerr_wait"].cls == "android.widget.Button"


def test_real_launcher_and_cjk_dumps_parse() -> None:
    launcher = parse(real_dump("avc_uiautomator_dump_nexuslauncher_api27").xml)
    assert launcher.windows[0].package == "com.google.android.apps.nexuslauncher"
    cjk = parse(real_dump("avc_uiautomator_dump_api17_chinese").xml)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in n.text) for n in cjk.nodes())


def test_switch_state_is_read() -> None:
    page = next(s.xml for s in recording("android-one-nosim-decline") if "location_switch" in s.xml)
    switch = next(n for n in parse(page).nodes() if n.resource_id.endswith(":id/location_switch"))
    assert switch.checkable
    assert switch.checked


def test_signature_ignores_the_status_bar_clock_but_not_a_switch() -> None:
    page = next(s.xml for s in recording("android-one-nosim-decline") if "location_switch" in s.xml)
    clock = next(n for n in parse(page).nodes() if n.resource_id == "com.android.systemui:id/clock")
    ticked = page.replace(f'"{clock.text}"', '"00:00"').replace(f'"{clock.desc}"', '"00:00"')
    assert ticked != page
    assert parse(ticked).signature() == parse(page).signature()
    flipped = page.replace('checked="true"', 'checked="false"', 1)
    assert parse(flipped).signature() != parse(page).signature()


@pytest.mark.parametrize(("text", "problem"), [
    ("", "not XML"),
    ("<hierarchy><node", "not XML"),
    ("<html><body/></html>", "not <hierarchy>"),
    ('<!DOCTYPE x [<!ENTITY a "aaaa">]><hierarchy>&a;</hierarchy>', "no DTD"),
])
def test_what_is_not_a_hierarchy_is_one_clear_error(text: str, problem: str) -> None:
    with pytest.raises(HierarchyError, match=problem):
        parse(text)
