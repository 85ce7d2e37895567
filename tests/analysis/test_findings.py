from __future__ import annotations

import dataclasses

from devicelab.analysis.findings import Finding, prune, redact_url
from devicelab.analysis.scan import Analyzer
from devicelab.model.secret import redact
from tests.analysis import helpers as h
from tests.analysis.test_zzhc import zzhc_flow

BASE = Finding(kind="imei", identifier=h.IMEI, host="h.example", url="https://h.example/", where=("body",),
               decoders=(), variant="as-is", tls=True, source="t", flow_index=0, flow_id="f0")


def test_redaction_keeps_last_digits_and_a_short_hash() -> None:
    shown = redact(h.IMEI)
    assert shown.startswith("…7518#")
    assert h.IMEI[:11] not in shown
    assert len(shown) == len("…7518#") + 6
    assert redact(h.IMEI) != redact(h.IMEI2)  # two handsets stay apart
    assert redact_url(f"https://h.example/d/{h.IMEI}/x?imei={h.IMEI}", h.IMEI) == f"https://h.example/d/{shown}/x?…"


def test_prune_keeps_the_most_specific_place_and_the_shortest_chain() -> None:
    body = BASE
    inner = dataclasses.replace(BASE, where=("body", "json:imei"), decoders=("json",))
    hashed = dataclasses.replace(BASE, where=("body", "json:imei"), decoders=("json", "sha256-hex"))
    sibling = dataclasses.replace(BASE, where=("header:X-Id",))
    other_kind = dataclasses.replace(BASE, kind="meid", identifier="35391110042341")
    assert prune([body, hashed, inner, sibling, other_kind]) == [inner, sibling, other_kind]


def test_both_matcher_engines_give_the_same_findings() -> None:
    flow = zzhc_flow()
    fast = Analyzer(h.identity(), engine="hyperscan").analyze(flow).findings
    fallback = Analyzer(h.identity(), engine="aho").analyze(flow).findings
    assert fast == fallback
    assert len(fast) >= 7
