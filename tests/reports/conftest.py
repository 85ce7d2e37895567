"""Shared, expensive material for the report tests: one sample run written once per session (per worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devicelab.reports.writer import Written, write_reports
from tests.reports import helpers as h


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The two-handset sample run (a zzhc.vnet.cn leak), written with its evidence; no Allure HTML."""
    base = tmp_path_factory.mktemp("sample")
    out = base / "run"
    run, bundle = h.sample_run(out)
    return write_reports(run, out, h.redactor(), evidence=bundle, allure_html=False)


@pytest.fixture(scope="session")
def out(written: Written) -> Path:
    return written.verdict.parent
