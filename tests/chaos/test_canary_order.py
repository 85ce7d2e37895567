"""The gate runs the canary before and after the window: a failure at either end is a gap, so a
handset that lost its network during the window is never judged on the traffic it could not send."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devicelab.capture.evidence import read_evidence

HEADER = {"evidence": "devicelab-capture", "version": 1, "ts": 1.0, "mode": "regular",
          "canary_host": "canary.devicelab.test"}
OK = {"kind": "canary", "ok": True, "detail": "seen"}
FAILED = {"kind": "canary", "ok": False, "detail": "no request for the canary within 5 s"}


@pytest.mark.parametrize(("canaries", "gap"), [
    ([OK, OK], False), ([OK, FAILED], True), ([FAILED, OK], True), ([FAILED], True),
])
def test_any_failed_canary_is_a_gap(tmp_path: Path, canaries: list[dict[str, object]], gap: bool) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [HEADER, *canaries, {"kind": "stop"}]))
    read = read_evidence(path)
    assert ("canary_failed" in [g.kind for g in read.gaps]) is gap


def _request(flow_id: str, host: str) -> dict[str, object]:
    return {"kind": "request", "id": flow_id, "ts": 10.0, "client": "127.0.0.1:40001", "mode": "regular",
            "client_tls": False, "sni": "", "method": "POST", "scheme": "http", "host": host, "pretty_host": host,
            "port": 80, "path": "/", "http_version": "HTTP/1.1", "headers": [["Host", host]], "body": "",
            "body_size": 0, "body_truncated": False, "server": "", "metadata": {}}


@pytest.mark.parametrize(("shown", "lost"), [([{"host": "zzhc.vnet.cn", "count": 1}], 0), ([], 1)])
def test_an_answered_flow_missing_from_a_judged_verdict_is_lost(tmp_path: Path, shown: list[object],
                                                                 lost: int) -> None:
    from devicelab.virtual.chaos import lost_flows

    folder = tmp_path / "evidence" / "virtual-0"
    folder.mkdir(parents=True)
    records = [HEADER, _request("a", "zzhc.vnet.cn"), {"kind": "response", "id": "a", "ts": 11.0, "status": 200},
               _request("b", "unanswered.example"), {"kind": "stop"}]
    (folder / "evidence.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    verdict = {"handsets": [{"handset": {"id": "virtual-0"}, "judged": True, "flows": shown}]}
    (tmp_path / "verdict.json").write_text(json.dumps(verdict))
    assert lost_flows(tmp_path) == lost
