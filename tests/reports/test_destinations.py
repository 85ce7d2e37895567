"""The destinations table in verdict.json, the HTML report and Allure."""

from __future__ import annotations

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
