"""The destinations table in verdict.json, the HTML report and Allure."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from devicelab.reports.allure_results import AllureWriter
from devicelab.reports.html import to_html
from devicelab.reports.model import DestinationRecord
from devicelab.reports.output import ReportFolder
from devicelab.reports.verdict_json import to_json
from tests.reports import helpers as h

ROWS = (
    DestinationRecord(host="time.android.com", ip="198.19.104.148", protocol="udp", ports=(123,), connections=3,
                      bytes_up=144, bytes_down=144, first_contact_s=0.0, median_interval_s=0.9, approved=False),
    DestinationRecord(host="zzhc.vnet.cn", ip="198.18.221.6", protocol="tcp", ports=(80,), connections=3,
                      bytes_up=1926, bytes_down=378, first_contact_s=1.2, median_interval_s=0.8,
                      identifiers=("iccid", "imei"), approved=False, seen="read"),
)


def _run() -> object:
    result = h.nokia_result().model_copy(update={"destinations": ROWS})
    return h.run_record([result])


def test_verdict_json_and_the_page_carry_every_column() -> None:
    run = _run()
    record = json.loads(to_json(run))  # type: ignore[arg-type]
    (handset,) = record["handsets"]
    assert handset["destinations"][1]["identifiers"] == ["iccid", "imei"]
    assert handset["destinations"][0]["ports"] == [123]
    page = to_html(run)  # type: ignore[arg-type]
    section = re.sub(r"<[^>]+>", "", page[page.index('id="destinations"'):page.index('id="coverage"')])
    for text in ("time.android.com", "198.19.104.148", "udp", "123", "zzhc.vnet.cn", "imei", "unapproved", "read"):
        assert text in section


def test_allure_attaches_the_table_as_csv(tmp_path: Path) -> None:
    AllureWriter(_run(), ReportFolder(tmp_path, h.redactor())).write()  # type: ignore[arg-type]
    tables = [p.read_text() for p in (tmp_path / "allure-results").glob("*.csv")]
    assert tables
    assert "zzhc.vnet.cn,198.18.221.6,tcp,80,3,1926,378" in tables[0]


def _pinned_connections() -> list[dict[str, object]]:
    """The gateway's reconciled rows: a TLS connection nobody read to push.hmdglobal.com (pinned,
    accepted blind by the global policy), and one to a host no rule accepts."""
    def row(host: str, ip: str, flow: str) -> dict[str, object]:
        return {"proto": "tcp", "handset": "10.77.0.2:40000", "remote": f"{ip}:443", "host": host,
                "account": "read", "flows": [flow], "bytes_up": 517, "bytes_down": 1400, "first": 10.0}
    return [row("push.hmdglobal.com", "198.18.0.9", "p1"), row("tracker.example", "198.18.0.10", "p2")]


def test_unread_traffic_the_policy_accepts_by_name_is_accepted_blind_with_its_reason(tmp_path: Path) -> None:
    from devicelab.model.traffic import Flow, Request
    from devicelab.reports.destinations import from_connections, from_flows

    policy = h.global_policy()
    reason = policy.blind_accepted("push.hmdglobal.com")
    assert reason, "the global policy accepts the pinned push channel blind"
    flows = [Flow(source="live", index=i, id=f"p{i}", request=Request(method="", scheme="tcp", host=host, port=443,
                                                                      path=""), tls=False, protocol="tcp",
                  undecrypted_tls=True)
             for i, host in ((1, "push.hmdglobal.com"), (2, "tracker.example"))]
    for table in (from_connections(_pinned_connections(), (), policy, flows), from_flows(flows, (), policy)):
        seen = {d.host: (d.seen, d.blind_reason) for d in table}
        assert seen["push.hmdglobal.com"] == ("accepted blind", reason)
        assert seen["tracker.example"] == ("opaque", "")  # no rule accepts it: still a gap

    table = from_connections(_pinned_connections(), (), policy, flows)
    run = h.run_record([h.nokia_result().model_copy(update={"destinations": table})])
    rows = {d["host"]: d for d in json.loads(to_json(run))["handsets"][0]["destinations"]}
    assert (rows["push.hmdglobal.com"]["seen"], rows["push.hmdglobal.com"]["blind_reason"]) == (
        "accepted blind", reason)
    page = to_html(run)
    section = html.unescape(page[page.index('id="destinations"'):page.index('id="coverage"')])
    assert "accepted blind" in section
    assert reason in section
    assert ">opaque<" in section  # the host no rule accepts
    AllureWriter(run, ReportFolder(tmp_path, h.redactor())).write()
    csv_text = next((tmp_path / "allure-results").glob("*.csv")).read_text()
    assert "accepted blind because" in csv_text.splitlines()[0]
    assert f"accepted blind,{reason}" in csv_text or f'accepted blind,"{reason}"' in csv_text
