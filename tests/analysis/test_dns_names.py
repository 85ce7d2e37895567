"""Identifiers in DNS query names: hex or base32 labels, split over labels or not."""

from __future__ import annotations

import base64

import pytest

from devicelab.analysis import dns_names
from devicelab.analysis.scan import Analyzer
from devicelab.model.identity import Identity
from devicelab.model.traffic import Flow, Request

IMEI = "490154203237518"


def _dns_flow(name: str) -> Flow:
    return Flow(source="test", index=0, id="q1", protocol="dns", tls=False,
                request=Request(method="QUERY", scheme="dns", host=name, port=53, path="",
                                headers=(("question", name),)))


def _b32(text: str) -> str:
    return base64.b32encode(text.encode()).decode().rstrip("=").lower()


@pytest.mark.parametrize(("name", "decoder"), [
    (f"{IMEI.encode().hex()}.t.exfil.example", "hex"),
    (f"{IMEI.encode().hex()[:16]}.{IMEI.encode().hex()[16:]}.t.exfil.example", "hex"),
    (f"{_b32(IMEI)}.t.exfil.example", "base32"),
    (f"{_b32(IMEI)[:12]}.{_b32(IMEI)[12:]}.t.exfil.example", "base32"),
])
def test_an_imei_in_the_labels_of_a_query_is_found(name: str, decoder: str) -> None:
    analysis = Analyzer(Identity(imei=(IMEI,))).analyze(_dns_flow(name))
    # the matcher names a base32 needle form by its alignment ("base32@0"), the decoder by its name
    imei = [f for f in analysis.findings if f.kind == "imei" and any(d.startswith(decoder) for d in f.decoders)]
    assert imei, name


def test_the_registered_domain_is_not_data() -> None:
    assert dns_names.data_labels("zzhc.vnet.cn") == ["zzhc"]
    assert dns_names.data_labels("example.com") == []
    assert not list(dns_names.candidates("example.com"))


def test_a_plain_name_has_no_findings() -> None:
    analysis = Analyzer(Identity(imei=(IMEI,))).analyze(_dns_flow("connectivitycheck.gstatic.com"))
    assert analysis.findings == ()
