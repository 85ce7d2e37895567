from __future__ import annotations

import base64
import os

import pytest

from devicelab.analysis.forms import base64_stable, build_needles, forms_for, luhn_digit, variants
from devicelab.analysis.matcher import Matcher
from tests.analysis import helpers as h


def _texts(kind: str, value: str) -> set[str]:
    return {v.text for v in variants(kind, value)}


def test_mac_variants_cover_separators_and_case() -> None:
    assert _texts("wifi_mac", "8C-45-00-12-34-56") == {
        "8c:45:00:12:34:56", "8C:45:00:12:34:56", "8c-45-00-12-34-56", "8C-45-00-12-34-56",
        "8c4500123456", "8C4500123456",
    }


def test_msisdn_variants_have_international_and_national_forms() -> None:
    assert _texts("msisdn", "+47 912 34 567") == {"+4791234567", "4791234567", "004791234567", "91234567"}
    assert "07700900123" in _texts("msisdn", "+447700900123")  # the UK national form keeps its trunk 0


def test_imei_iccid_and_cell_variants() -> None:
    assert _texts("imei", h.IMEI) == {h.IMEI, h.IMEI[:14]}
    assert _texts("imei", h.IMEI[:14]) == {h.IMEI[:14], h.IMEI}  # the check digit is derived
    assert {"8947080037110452710F", "894708003711045271"} <= _texts("iccid", h.ICCID)
    assert _texts("iccid", h.ICCID + "F") >= {h.ICCID + "F", h.ICCID}
    assert {"219769344", "858474-0", "858474/0", "d196a00", "0d196a00"} <= _texts("cell_id", h.CELL_ID)


def test_android_id_and_meid_numeric_forms() -> None:
    texts = _texts("android_id", "0123456789abcdef")
    assert {"0123456789abcdef", "0123456789ABCDEF", "123456789abcdef", str(0x0123456789ABCDEF)} <= texts
    assert str(0xF123456789ABCDEF - 2**64) in _texts("android_id", "f123456789abcdef")  # signed int64
    assert "2684354564" + "01193046" in _texts("meid", "A0000004123456")  # 18-digit decimal MEID


def test_luhn() -> None:
    assert luhn_digit("49015420323751") == "8"


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_base64_stable_substring_survives_any_surroundings(offset: int) -> None:
    value = h.IMEI.encode()
    stable = base64_stable(value, offset)
    assert len(stable) >= 16
    for _ in range(20):
        prefix = os.urandom(offset + 3 * (os.urandom(1)[0] % 5))  # any length that leaves `offset` mod 3
        stream = prefix + value + os.urandom(os.urandom(1)[0] % 7)
        assert stable in base64.b64encode(stream)


@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("engine", ["hyperscan", "aho"])
def test_matcher_finds_identifier_at_each_base64_alignment(offset: int, engine: str) -> None:
    matcher = Matcher(build_needles([("imei", h.IMEI)]).forms, engine=engine)  # type: ignore[arg-type]
    stream = b"\xfe" * (3 + offset) + h.IMEI.encode() + b"\x01\x02"
    hits = matcher.scan(base64.b64encode(stream)).hits
    assert f"base64@{offset}" in {hit.form.encoding[0] for hit in hits}
    near = b"\xfe" * (3 + offset) + h.near(h.IMEI).encode() + b"\x01\x02"
    assert not matcher.scan(base64.b64encode(near)).hits


def test_every_form_knows_its_kind_and_derivation() -> None:
    forms, skipped = forms_for("wifi_mac", h.WIFI_MAC)
    assert not skipped
    assert all(f.kind == "wifi_mac" and f.identifier == h.WIFI_MAC for f in forms)
    encodings = {f.encoding for f in forms}
    assert {(), ("urlencode",), ("base64@1",), ("hex",), ("sha256-hex",), ("md5-base64",), ("sha1-raw",)} <= encodings
    assert len({(f.needle.lower() if f.caseless else f.needle, f.caseless) for f in forms}) == len(forms)


def test_short_identifiers_are_reported_not_searched() -> None:
    needles = build_needles([("cell_id", "4711")])
    assert not needles.forms
    assert needles.skipped[0].kind == "cell_id"
