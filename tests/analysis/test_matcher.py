from __future__ import annotations

import pytest

from devicelab.analysis.forms import Form
from devicelab.analysis.matcher import MAX_EVENTS, Matcher

ENGINES = ["hyperscan", "aho"]


def _form(needle: bytes, caseless: bool = False, boundary: str = "") -> Form:
    return Form("imei", needle.decode("latin-1"), "as-is", (), needle, caseless, boundary)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ENGINES)
def test_overlapping_needles_are_all_found(engine: str) -> None:
    # regex alternation would report only one of these overlapping needles
    forms = [_form(b"490154203237518"), _form(b"49015420323751"), _form(b"0154203237518"), _form(b"518ab")]
    hits = Matcher(forms, engine=engine).scan(b"x490154203237518ab").hits  # type: ignore[arg-type]
    assert [(hit.form.needle, hit.start, hit.end) for hit in hits] == [
        (b"490154203237518", 1, 16), (b"49015420323751", 1, 15), (b"0154203237518", 3, 16), (b"518ab", 13, 18)]


@pytest.mark.parametrize("engine", ENGINES)
def test_caseless_only_where_the_form_says(engine: str) -> None:
    matcher = Matcher([_form(b"8c:45:00", caseless=True), _form(b"QUJD")], engine=engine)  # type: ignore[arg-type]
    assert {h.form.needle for h in matcher.scan(b"8C:45:00 qujd").hits} == {b"8c:45:00"}
    assert {h.form.needle for h in matcher.scan(b"QUJD").hits} == {b"QUJD"}


@pytest.mark.parametrize("engine", ENGINES)
def test_binary_needles_with_nul_bytes(engine: str) -> None:
    matcher = Matcher([_form(b"4\x009\x000\x00"), _form(b"a.b*c")], engine=engine)  # type: ignore[arg-type]
    assert len(matcher.scan(b"\x00\x004\x009\x000\x00 a.b*c").hits) == 2
    assert not matcher.scan(b"abbbc 490").hits  # metacharacters stay literal


@pytest.mark.parametrize("engine", ENGINES)
def test_digit_boundary(engine: str) -> None:
    matcher = Matcher([_form(b"219769344", boundary="digit")], engine=engine)  # type: ignore[arg-type]
    assert not matcher.scan(b"1219769344 2197693441").hits
    hit, = matcher.scan(b"1219769344, cid=219769344;").hits
    assert hit.start == 16


@pytest.mark.parametrize("engine", ENGINES)
def test_adversarial_candidate_flood_is_cut_short(engine: str) -> None:
    matcher = Matcher([_form(b"123456", boundary="digit")], engine=engine)  # type: ignore[arg-type]
    result = matcher.scan(b"1234567" * (MAX_EVENTS + 10))
    assert result.truncated
    assert not result.hits


def test_no_forms_matches_nothing() -> None:
    matcher = Matcher([])
    assert matcher.engine == "none"
    assert not matcher.scan(b"anything").hits
