from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from devicelab.reports.html import finding_groups, marked, reasons, rule_label, to_html
from tests.reports import helpers as h


class _Tags(HTMLParser):
    """Every tag and attribute in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def test_hostile_traffic_is_shown_as_text() -> None:
    page = to_html(h.hostile_run())
    tags = _tags(page)
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object")]
    assert not [a for _, attrs in tags for a in attrs if a.startswith("on")]
    assert "&lt;script&gt;document.title=" in page
    assert "&lt;img src=x onerror=" in page
    assert h.ah.IMEI not in page  # the record redacted it on the way in


def test_the_page_is_self_contained() -> None:
    page = to_html(h.hostile_run())
    for tag, attrs in _tags(page):
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("#", "evidence/")), (tag, name, value)
        assert tag not in ("link", "script")
    assert "default-src 'none'" in page


def test_the_sample_report_says_what_a_reader_needs(out: Path) -> None:
    page = (out / "report.html").read_text()
    text = re.sub(r"<[^>]+>", "", page)
    assert "FAIL" in text
    assert "this build must not ship" in text
    assert "zzhc.vnet.cn received cell_id, iccid, imei, imsi, meid, wifi_mac (forbidden host, plain text)" in text
    for words in ("nokia7plus-00WW_3_22C", "global", "b2n-01", "emu-01", "com.evenwell.autoregistration",
                  "body &gt; base64 &gt; json:SIM1ICCID", "Hosts contacted per app", "Timeline", "evidence/b2n-01/"):
        assert words in page, words
    assert '<mark class="id">⟦iccid' in page
    assert 'href="evidence/b2n-01/screen-0062.png"' in page


def test_findings_are_grouped_by_host_worst_first() -> None:
    run = h.run_record([h.nokia_result(), h.emulator_result()])
    groups = finding_groups(run)
    assert [g.host for g in groups][:1] == ["zzhc.vnet.cn"]
    assert groups[-1].host == "android.clients.google.com"
    assert not groups[-1].violating
    facebook = next(g for g in groups if g.host == "graph.facebook.com")
    assert sum(len(row.flows) for row in facebook.rows) == 8


def test_reasons_explain_each_verdict() -> None:
    assert reasons(h.run_record([]))[0] == "no handset was tested"
    assert rule_label("forbidden-host: zzhc.vnet.cn (China Telecom; must not run)") == (
        "Forbidden host", "China Telecom; must not run")
    assert rule_label("plain-text: personal data must travel inside TLS")[0] == "Plain text"


def test_marked_escapes_then_highlights() -> None:
    assert str(marked("<b>⟦imei …7518#1f0b62⟧</b>")) == (
        '&lt;b&gt;<mark class="id">⟦imei …7518#1f0b62⟧</mark>&lt;/b&gt;')
    assert "<mark" not in str(marked("⟦<script>⟧"))


def test_a_plain_flow_that_is_no_http_says_what_it_was() -> None:
    """Behind the gateway a DNS query, an NTP packet or a raw TCP connection is a flow too: its
    transport names the protocol, and what is plain is still marked plain."""
    from devicelab.reports.html import contacts
    from devicelab.reports.model import FlowGroup

    result = h.nokia_result()
    extra = tuple(FlowGroup(host="time.android.com", scheme=scheme, tls=False, count=1, bytes=48)
                  for scheme in ("dns", "udp", "tcp", "http"))
    run = h.run_record([result.model_copy(update={"flows": (*result.flows, *extra)})])
    seen = {c.transport for c in contacts(run) if c.host == "time.android.com"}
    assert seen == {"plain, DNS query", "plain, UDP", "plain, raw TCP", "plain"}
    page = to_html(run)
    assert '<span class="tag plain">plain, DNS query</span>' in page
