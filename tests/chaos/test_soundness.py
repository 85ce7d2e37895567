"""`make soundness`, its fast part: the table's rows, and a few of them run through the real gate.
The whole table is `make soundness`; every row there must show 0 passes but the accept_blind one."""

from __future__ import annotations

from pathlib import Path

import pytest

from devicelab.virtual.soundness import HOSTILE_DIR, Case, Result, Row, cases, run_case, table

WINDOW = 90.0


def test_the_table_covers_every_blind_spot_on_both_builds_and_every_hostile_file() -> None:
    rows = cases()
    for build in ("nokia7plus-00WW_3_22C", "nokia7plus-00WW_3_22C_SP05"):
        spots = {c.blind_spot.split(" (")[0] for c in rows if c.build == build}
        assert {"identity unread", "identity implausible", "inventory and handset disagree", "unknown SDK",
                "a handset crashes mid-run", "TLS unopened, approved host without accept_blind", "canary failure",
                "body over the size limit", "window cut short by a reboot", "clock jump in the window",
                "capture killed", "corrupt evidence log"} <= spots
    hostile = {Path(c.build).name for c in rows if c.blind_spot.startswith("hostile build")}
    assert hostile == {p.name for p in HOSTILE_DIR.glob("*.yaml")}  # whoever adds a file gets a row
    assert len(hostile) >= 5
    assert [c.blind_spot for c in rows if c.may_pass] == ["accept_blind honoured (every unread host accepted by name)"]


def test_the_table_counts_a_pass_against_every_row_but_the_accepted_one() -> None:
    blind = Row(Case("x", "b"), [Result("pass"), Result("inconclusive")])
    accepted = Row(Case("y", "b", may_pass=True), [Result("pass")])
    text = table([blind, accepted])
    assert "unexplained passes: 1" in text
    assert "(accepted by name)" in text


@pytest.mark.parametrize("spot", [
    "hostile build: zzhc-around-proxy-to-zzhc",  # a forbidden host around the proxy fails
    pytest.param("hostile build: zzhc-tls-to-approved-host", marks=pytest.mark.slow),  # `make soundness`
    pytest.param("unknown SDK", marks=pytest.mark.slow),
    "corrupt evidence log",
])
def test_a_fast_subset_of_rows_never_passes(spot: str, tmp_path: Path) -> None:
    (case,) = [c for c in cases() if c.blind_spot.startswith(spot) and c.build in (
        "nokia7plus-00WW_3_22C_SP05", *(str(p) for p in HOSTILE_DIR.glob("*.yaml")))]
    result = run_case(case, tmp_path, WINDOW)
    assert result.outcome in ("fail", "inconclusive", "error"), (result, (tmp_path / "gate.log").read_text()[-2000:]
                                                                 if (tmp_path / "gate.log").exists() else "")
    if "around-proxy-to-zzhc" in spot:
        assert result.outcome == "fail"  # contact alone fails, by any path


def test_the_accept_blind_row_is_the_one_that_may_pass(tmp_path: Path) -> None:
    (case,) = [c for c in cases() if c.may_pass]
    result = run_case(case, tmp_path, WINDOW)
    assert result.outcome == "pass", (tmp_path / "gate.log").read_text()[-3000:]
