"""The view tree, its XML dump and UiSelector matching, without a handset."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from devicelab.virtual.ui.hierarchy import Rect, ViewNode, dump_xml, hit_test, obj_info
from devicelab.virtual.ui.layout import clip, text_width, wrap
from devicelab.virtual.ui.selectors import SelectorError, find_all, parse_selector

REALDATA = Path(__file__).resolve().parent / "data" / "ui_dumps"  # copied from shared/realdata
PKG = "com.example"


def tree() -> list[ViewNode]:
    """A window with a list of two rows (title + switch) and two buttons."""
    rows = []
    for i, (title, on) in enumerate((("Use location", True), ("Send usage data", True))):
        top = 200 + i * 200
        row = ViewNode("android.widget.LinearLayout", PKG, Rect(0, top, 1080, top + 180), clickable=True,
                       action=f"toggle:k{i}")
        row.add(ViewNode("android.widget.TextView", PKG, Rect(40, top + 20, 800, top + 80), text=title,
                         resource_id="android:id/title"),
                ViewNode("android.widget.Switch", PKG, Rect(900, top + 40, 1040, top + 140), checkable=True, checked=on,
                         resource_id=f"{PKG}:id/switch{i}"))
        rows.append(row)
    buttons = [ViewNode("android.widget.Button", PKG, Rect(40 + i * 500, 1800, 500 + i * 500, 1900), text=text,
                        clickable=True, resource_id=f"{PKG}:id/{rid}", action=action)
               for i, (text, rid, action) in enumerate((("Skip", "skip_button", "skip"),
                                                         ("Next", "next_button", "next")))]
    root = ViewNode("android.widget.FrameLayout", PKG, Rect(0, 0, 1080, 2034))
    root.add(ViewNode("android.widget.LinearLayout", PKG, Rect(0, 0, 1080, 1000)).add(*rows), *buttons)
    return [root]


def sel(**fields: object) -> dict[str, object]:
    """A selector as uiautomator2's Selector class sends it (mask bits included)."""
    from uiautomator2._selector import Selector

    return dict(Selector(**fields))


# -- the XML dump ----------------------------------------------------------------------------
def test_dump_is_the_uiautomator_dialect() -> None:
    xml = dump_xml(tree())
    assert xml.startswith("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\r\n<hierarchy rotation=\"0\">")
    root = ET.fromstring(xml.split("\r\n", 1)[1])
    nodes = list(root.iter("node"))
    assert len(nodes) == 10
    real = ET.parse(REALDATA / "avc_uiautomator_dump_nexuslauncher_api27.xml").getroot().find("node")
    assert real is not None
    assert set(real.attrib) <= set(nodes[0].attrib)  # every attribute a real dump has, and u2's extras
    first = nodes[0].attrib
    assert list(first)[:6] == ["index", "text", "resource-id", "class", "package", "content-desc"]
    switch = next(n for n in nodes if n.get("class") == "android.widget.Switch")
    assert (switch.get("checkable"), switch.get("checked")) == ("true", "true")
    assert switch.get("bounds") == "[900,240][1040,340]"
    assert [n.get("index") for n in nodes[0]] == ["0", "1", "2"]  # the window's children


def test_dump_indexes_depth_and_naf() -> None:
    xml = dump_xml(tree(), max_depth=1)
    window = ET.fromstring(xml.split("\r\n", 1)[1]).find("node")
    assert window is not None
    assert [n.get("index") for n in window] == ["0", "1", "2"]
    assert len(list(window.iter("node"))) == 4  # the window and its three children, no deeper
    rows = ET.fromstring(dump_xml(tree()).split("\r\n", 1)[1]).iter("node")
    assert not any(n.get("NAF") for n in rows)  # clickable rows have text below them
    lonely = ViewNode("android.widget.ImageView", PKG, Rect(0, 0, 10, 10), clickable=True)
    assert 'NAF="true" index="0"' in dump_xml([lonely])


def test_dump_escapes_and_strips_what_xml_cannot_carry() -> None:
    node = ViewNode("android.widget.TextView", PKG, Rect(0, 0, 10, 10), text='a "b" <c> & d\x00\x1f', desc="欢迎")
    xml = dump_xml([node])
    parsed = ET.fromstring(xml.split("\r\n", 1)[1]).find("node")
    assert parsed is not None
    assert parsed.get("text") == 'a "b" <c> & d..'
    assert parsed.get("content-desc") == "欢迎"


def test_empty_dump_is_the_empty_hierarchy_u2_retries_on() -> None:
    assert dump_xml([]).endswith('<hierarchy rotation="0" />')


def test_compressed_dump_hoists_plain_containers() -> None:
    full = len(list(ET.fromstring(dump_xml(tree()).split("\r\n", 1)[1]).iter("node")))
    compressed = list(ET.fromstring(dump_xml(tree(), compressed=True).split("\r\n", 1)[1]).iter("node"))
    assert len(compressed) < full
    assert {n.get("text") for n in compressed} >= {"Use location", "Skip", "Next"}


def test_obj_info_has_u2s_fields() -> None:
    node = tree()[0].children[1]
    info = obj_info(node)
    assert info["bounds"] == {"bottom": 1900, "left": 40, "right": 500, "top": 1800}
    assert info["visibleBounds"] == info["bounds"]
    assert (info["text"], info["className"], info["resourceName"]) == ("Skip", "android.widget.Button",
                                                                       f"{PKG}:id/skip_button")
    assert info["contentDescription"] is None


def test_hit_test_finds_the_deepest_clickable_view() -> None:
    roots = tree()
    assert hit_test(roots, 270, 1850).text == "Skip"  # type: ignore[union-attr]
    assert hit_test(roots, 950, 290).action == "toggle:k0"  # the row takes the tap on its switch
    assert hit_test(roots, 540, 1500) is None
    assert hit_test(roots, 2000, 10) is None


def test_clip_drops_what_scrolled_away_and_keeps_full_bounds() -> None:
    roots = tree()
    column = roots[0].children[0]
    kept = clip(column, Rect(0, 300, 1080, 1000))
    assert kept is not None
    assert len(kept.children) == 2
    assert kept.children[0].bounds == Rect(0, 300, 1080, 380)
    assert kept.children[0].full_bounds == Rect(0, 200, 1080, 380)
    assert obj_info(kept.children[0])["bounds"]["top"] == 200
    assert obj_info(kept.children[0])["visibleBounds"]["top"] == 300
    assert clip(column, Rect(0, 1500, 1080, 1600)) is None


def test_wrap_breaks_words_and_cjk() -> None:
    sentence = "Allow apps and services to scan for Wi-Fi networks at any time"
    lines = wrap(sentence, 42, 500)
    assert len(lines) > 1
    assert all(text_width(line, 42) <= 500 for line in lines)
    assert " ".join(lines) == sentence
    cjk = wrap("欢迎使用中国电信服务根据运营商要求本机将在开机后自动发送终端信息", 42, 420)
    assert all(len(line) <= 10 for line in cjk)
    assert "".join(cjk).startswith("欢迎使用")
    assert wrap("x" * 100, 42, 100)[0] != "x" * 100  # an over-long word is split


# -- selectors -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "texts"),
    [
        ({"text": "Skip"}, ["Skip"]),
        ({"textContains": "location"}, ["Use location"]),
        ({"textMatches": "S.*"}, ["Send usage data", "Skip"]),
        ({"textMatches": "Sk"}, []),  # a full match, as Java's String.matches
        ({"textStartsWith": "Ne"}, ["Next"]),
        ({"className": "android.widget.Button"}, ["Skip", "Next"]),
        ({"resourceIdMatches": r".*:id/(skip|next)_button"}, ["Skip", "Next"]),
        ({"className": "android.widget.Button", "instance": 1}, ["Next"]),
        ({"className": "android.widget.Button", "index": 2}, ["Next"]),
        ({"clickable": True, "className": "android.widget.Button", "enabled": True}, ["Skip", "Next"]),
    ],
)
def test_selector_matching(fields: dict[str, object], texts: list[str]) -> None:
    found = find_all(tree(), parse_selector(sel(**fields)))
    assert [n.text for n in found] == texts


def test_checked_and_child_and_sibling_selectors() -> None:
    from uiautomator2._selector import Selector

    roots = tree()
    switches = find_all(roots, parse_selector(dict(Selector(checked=True))))
    assert len(switches) == 2
    child = Selector(className="android.widget.LinearLayout", clickable=True).child(className="android.widget.Switch")
    assert [n.resource_id for n in find_all(roots, parse_selector(dict(child)))] == [f"{PKG}:id/switch0",
                                                                                    f"{PKG}:id/switch1"]
    sibling = Selector(text="Send usage data").sibling(className="android.widget.Switch")
    assert [n.resource_id for n in find_all(roots, parse_selector(dict(sibling)))] == [f"{PKG}:id/switch1"]


def test_selector_string_is_uiselectors() -> None:
    assert str(parse_selector(sel(text="Start", resourceId="a:id/b"))) == "UiSelector[TEXT=Start, RESOURCE_ID=a:id/b]"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("text", "must be an object"),
        ({"mask": 1, "text": 5}, "'text' must be str"),
        ({"mask": 0x0800, "checked": "yes"}, "'checked' must be bool"),
        ({"mask": 0x800000, "index": True}, "'index' must be int"),
        ({"mask": 4, "textMatches": "("}, "bad regular expression"),
        ({"bogus": 1}, "unknown selector field 'bogus'"),
        ({"mask": "1"}, "mask must be an integer"),
        ({"childOrSibling": ["child"], "childOrSiblingSelector": []}, "equal length"),
        ({"childOrSibling": ["uncle"], "childOrSiblingSelector": [{}]}, "'child' or 'sibling'"),
    ],
)
def test_bad_selectors_are_named(data: object, problem: str) -> None:
    with pytest.raises(SelectorError, match=re.escape(problem)):
        parse_selector(data)


def test_a_selector_without_a_mask_uses_its_fields() -> None:
    assert [n.text for n in find_all(tree(), parse_selector({"text": "Next"}))] == ["Next"]
