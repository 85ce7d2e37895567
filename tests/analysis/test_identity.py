from __future__ import annotations

from pathlib import Path

import pytest

from devicelab.errors import ConfigError
from devicelab.model.identity import IDENTIFIER_KINDS, Identity, load_identity
from tests.analysis import helpers as h


def test_example_identity_loads_every_kind() -> None:
    identity = h.identity()
    assert identity.imei == (h.IMEI, h.IMEI2)
    assert identity.iccid == (h.ICCID,)  # one string stands for a list of one
    assert identity.location is not None
    assert identity.location.radius_m == 2000
    assert {kind for kind, _ in identity.identifiers()} == set(IDENTIFIER_KINDS) - {"email"}


def test_identity_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        h.identity().imei = ()


def test_json_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "id.json"
    path.write_text('{"imei": ["490154203237518"], "wifi_mac": "8C-45-00-12-34-56", "email": "a.b@example.com"}')
    identity = load_identity(path)
    assert identity.wifi_mac == ("8C-45-00-12-34-56",)
    assert identity == Identity(imei=[h.IMEI], wifi_mac="8C-45-00-12-34-56", email="a.b@example.com")  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "field", "problem"), [
    ("imei: 490154203237518\n", "imei", "quoted strings"),
    ("imei: ['490154203237518', 12]\n", "imei.1", "valid string"),
    ("iccid: ['8947080037110452710', '89470']\n", "iccid.1", "17-22 digits"),
    ("wifi_mac: 8c:45:00:12:34\n", "wifi_mac.0", "MAC"),
    ("location: {lat: 95, lon: 10, radius_m: 100}\n", "location.lat", "less than or equal to 90"),
    ("location: {lat: 59.9, lon: 10}\n", "location.radius_m", "required field is missing"),
    ("imie: '490154203237518'\n", "imie", "unknown field"),
])
def test_first_bad_field_is_named(tmp_path: Path, text: str, field: str, problem: str) -> None:
    path = tmp_path / "handset.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_identity(path)
    assert info.value.path == str(path)
    assert info.value.field == field
    assert problem in info.value.problem


def test_unsafe_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("imei: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_identity(path)
