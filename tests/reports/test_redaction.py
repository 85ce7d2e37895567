from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

from devicelab.model.identity import Identity
from devicelab.reports.redaction import MARKER, Redactor, ensure_redacted
from tests.analysis import helpers as ah


def _redactor() -> Redactor:
    return Redactor([ah.identity()])


def test_every_searched_form_becomes_a_marker() -> None:
    r = _redactor()
    texts = [
        f"imei={ah.IMEI}", f"mac={ah.WIFI_MAC.upper()}", f"mac={ah.WIFI_MAC.replace(':', '')}",
        f"n={quote(ah.MSISDN, safe='')}", f"h={hashlib.sha256(ah.IMEI.encode()).hexdigest()}",
        f"b={base64.b64encode(ah.IMSI.encode()).decode()}", f"i={ah.ICCID}F",
    ]
    for text in texts:
        scrubbed = r.scrub(text)
        assert MARKER.search(scrubbed), text
        assert not r.leaks(scrubbed.encode()), (text, scrubbed)


def test_the_longest_form_wins_so_nothing_is_left_over() -> None:
    scrubbed = _redactor().scrub(f'"SIM1ICCID":"{ah.ICCID}"')
    assert scrubbed.startswith('"SIM1ICCID":"⟦iccid …2710#')
    assert scrubbed.endswith('⟧"')


def test_markers_name_kind_and_redacted_value() -> None:
    scrubbed = _redactor().scrub(f"x {ah.IMEI} y")
    assert scrubbed.startswith("x ⟦imei …7518#")
    assert scrubbed.endswith("⟧ y")
    assert ah.IMEI not in scrubbed


def test_short_numbers_keep_their_digit_boundaries() -> None:
    r = _redactor()
    assert r.scrub(f"cell {ah.CELL_ID}").startswith("cell ⟦cell_id")
    assert r.scrub(f"ts 1{ah.CELL_ID}7") == f"ts 1{ah.CELL_ID}7"  # part of a longer number: not the cell ID


def test_positions_near_the_handset_are_hidden() -> None:
    r = Redactor([Identity.model_validate({"location": {"lat": 59.9127, "lon": 10.7461, "radius_m": 2000}})])
    scrubbed = r.scrub('{"lat":59.91301,"lng":10.74532,"lat_e7":599130100,"version":"12.3","far":48.85}')
    assert "59.913" not in scrubbed
    assert "10.745" not in scrubbed
    assert "599130100" not in scrubbed
    assert '"version":"12.3"' in scrubbed
    assert '"far":48.85' in scrubbed
    assert r.leaks(b"at 59.91301,10.74532", positions=True) == ["location"]
    assert r.leaks(b"at 59.91301,10.74532") == []
    assert r.scrub("time=59.91301", positions=False) == "time=59.91301"
    assert r.scrub("sha=ab599130100cd v1.59.91301") == "sha=ab599130100cd v1.59.91301"


def test_leaks_name_the_kinds_found_in_finished_files() -> None:
    assert _redactor().leaks(f"<td>{ah.IMSI}</td> and {ah.WIFI_MAC}".encode()) == ["imsi", "wifi_mac"]
    assert _redactor().leaks(b"nothing here") == []


def test_a_redactor_without_identities_changes_nothing() -> None:
    assert Redactor.none().scrub(f"{ah.IMEI}") == ah.IMEI


def test_ensure_redacted_is_idempotent() -> None:
    once = ensure_redacted(ah.IMEI)
    assert once != ah.IMEI
    assert ensure_redacted(once) == once
    assert ensure_redacted("") == ""
