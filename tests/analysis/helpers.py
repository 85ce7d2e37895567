"""Shared test material: the example handset's identity and a flow builder."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from devicelab.analysis.scan import Analyzer, FlowAnalysis
from devicelab.model.identity import Identity, load_identity
from devicelab.model.traffic import Flow, Request

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
IDENTITY_FILE = ROOT / "fixtures" / "identities" / "nokia7plus-telenor.yaml"
GLOBAL_POLICY = ROOT / "fixtures" / "policies" / "global.yaml"
CHINA_POLICY = ROOT / "fixtures" / "policies" / "china.yaml"

IMEI = "490154203237518"
IMEI2 = "353911100423419"
IMSI = "242016000451873"
ICCID = "8947080037110452710"
MSISDN = "+4791234567"
SERIAL = "B2NGAB0123456789"
WIFI_MAC = "8c:45:00:12:34:56"
ANDROID_ID = "51b6be48bac8c569"
AAID = "1209d0b9-b959-42e6-b921-aa5d9d08c1af"
CELL_ID = "219769344"  # eNB 858474, cell 0


@cache
def identity() -> Identity:
    return load_identity(IDENTITY_FILE)


@cache
def analyzer() -> Analyzer:
    return Analyzer(identity())


def make_flow(body: bytes = b"", *, headers: dict[str, str] | None = None, host: str = "tracker.example",
              path: str = "/collect", method: str = "POST", tls: bool = True, index: int = 0) -> Flow:
    request = Request(method=method, scheme="https" if tls else "http", host=host, port=443 if tls else 80,
                      path=path, http_version="HTTP/1.1", headers=tuple((headers or {}).items()), content=body)
    return Flow(source="test", index=index, id=f"f{index}", request=request, tls=tls)


def analyze(flow: Flow) -> FlowAnalysis:
    return analyzer().analyze(flow)


def kinds(flow: Flow) -> set[str]:
    return {f.kind for f in analyze(flow).findings}


def near(value: str) -> str:
    """The same identifier with one character near the middle changed: a near miss."""
    for offset in range(len(value)):
        for pos in (len(value) // 2 + offset, len(value) // 2 - offset):
            if 0 <= pos < len(value) and value[pos].isalnum():
                ch = value[pos]
                if ch.isdigit():
                    new = str((int(ch) + 1) % 10)
                else:
                    new = "a" if ch.lower() != "a" else "b"
                    new = new.upper() if ch.isupper() else new
                return value[:pos] + new + value[pos + 1:]
    raise ValueError(value)
