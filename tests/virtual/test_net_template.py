"""The `template` payload kind: bodies built from identity placeholders through their steps, and
the checks a build file gets (no network)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from urllib.parse import parse_qs

import blackboxprotobuf
import pytest
from pydantic import ValidationError

from devicelab.model.builds import AppTraffic
from devicelab.model.templates import TemplateSpec
from devicelab.virtual.net import template
from tests.virtual.test_net_wire import facts

IMEI = "353911104020921"


def test_a_json_field_carries_the_imei_through_gzip_then_base64() -> None:
    spec = TemplateSpec(format="json", fields={"d": "{imei|gzip|base64}", "m": "{model}"})
    document = json.loads(template.body(spec, facts()))
    assert gzip.decompress(base64.b64decode(document["d"])).decode() == IMEI
    assert document["m"] == "Nokia 7 plus"


def test_form_protobuf_hashes_and_body_steps() -> None:
    form = parse_qs(template.body(TemplateSpec(format="form", fields={"h": "{imei|sha256}", "s": "{serial}"}),
                                  facts()).decode())
    assert form == {"h": [hashlib.sha256(IMEI.encode()).hexdigest()], "s": ["B2NABC0123456789"]}
    proto = template.body(TemplateSpec(format="protobuf", fields={"1": "{iccid}", "2": "{android_id|md5}"}), facts())
    decoded, _ = blackboxprotobuf.decode_message(proto)
    assert decoded["1"] == facts().sim.iccid  # type: ignore[union-attr]
    body = template.body(TemplateSpec(format="raw", fields={"body": "{imei}"}, encode=["hex"]), facts())
    assert bytes.fromhex(body.decode()).decode() == IMEI


def test_an_sntp_request_is_48_bytes_of_mode_3() -> None:
    data = template.body(TemplateSpec(format="sntp"), facts())
    assert len(data) == 48
    assert data[0] & 0x07 == 3


@pytest.mark.parametrize(("fields", "problem"), [
    ({"d": "{imie}"}, "unknown placeholder"),
    ({"d": "{imei|rot13}"}, "unknown step"),
])
def test_a_bad_template_is_one_clear_error(fields: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        TemplateSpec(format="json", fields=fields)


def test_protobuf_fields_are_numbers() -> None:
    with pytest.raises(ValidationError, match="numbers"):
        TemplateSpec(format="protobuf", fields={"imei": "{imei}"})


def _app(**kw: object) -> AppTraffic:
    base: dict[str, object] = {"name": "t", "package": "p.q", "triggers": [{"event": "boot"}]}
    return AppTraffic.model_validate({**base, **kw})


def test_raw_transports_belong_to_template_clients() -> None:
    ok = _app(payload="template", url="tcp://beacon.example:7000/", template={"format": "raw"})
    assert (ok.scheme, ok.port) == ("tcp", 7000)
    with pytest.raises(ValidationError, match="template clients"):
        _app(payload="activation", url="tcp://beacon.example:7000/")
    with pytest.raises(ValidationError, match="names its port"):
        _app(payload="template", url="udp://beacon.example/", template={"format": "raw"})
    with pytest.raises(ValidationError, match="only with it"):
        _app(payload="template", url="http://beacon.example/")


def test_a_quic_initial_looks_like_one() -> None:
    packet = template.quic_initial("telemetry.example")
    assert len(packet) == 1200
    assert packet[0] & 0xC0 == 0xC0  # long header
    assert packet[1:5] == b"\x00\x00\x00\x01"  # QUIC v1
