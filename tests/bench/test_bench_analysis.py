"""Analysis throughput on a mixed corpus, against a bare hyperscan scan of the same needles."""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import time
from dataclasses import dataclass

import pytest

from devicelab.analysis.matcher import Matcher
from devicelab.analysis.scan import Analyzer
from devicelab.model.traffic import Flow
from tests.analysis import helpers as h
from tests.analysis.helpers import make_flow

_MB = 1024 * 1024


def _corpus(total: int) -> list[Flow]:
    """JSON, forms, Base64 blobs, gzip, binary and text bodies, a few carrying an identifier."""
    rng = random.Random(7)
    flows: list[Flow] = []
    size = 0
    while size < total:
        kind = rng.randrange(6)
        words = {f"k{i}": rng.choice([rng.random(), rng.randrange(10**9), os.urandom(12).hex()]) for i in range(40)}
        if rng.random() < 0.05:
            words["device"] = h.IMEI
        doc = json.dumps(words).encode()
        if kind == 0:
            flow = make_flow(doc * 8, headers={"Content-Type": "application/json"})
        elif kind == 1:
            flow = make_flow(b"&".join(f"{k}={v}".encode() for k, v in words.items()),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        elif kind == 2:
            flow = make_flow(base64.encodebytes(doc * 4), headers={"Content-Type": "application/encrypted-json"})
        elif kind == 3:
            flow = make_flow(gzip.compress(doc * 16), headers={"Content-Encoding": "gzip",
                                                               "Content-Type": "application/json"})
        elif kind == 4:
            flow = make_flow(os.urandom(64 * 1024), headers={"Content-Type": "application/octet-stream"})
        else:
            flow = make_flow(b"lorem ipsum dolor sit amet " * 2000, headers={"Content-Type": "text/plain"})
        flows.append(flow)
        size += len(flow.request.content)
    return flows


@dataclass(frozen=True)
class AnalysisSpeed:
    flows: int
    megabytes: float
    needles: int
    analysis_mbs: float
    raw_mbs: float
    findings: int
    raw_hits: int


def measure_analysis(megabytes: int = 32) -> AnalysisSpeed:
    """Analysis MB/s and a bare hyperscan scan's MB/s over the same corpus, one run."""
    flows = _corpus(megabytes * _MB)
    total = sum(len(f.request.content) for f in flows)
    analyzer = Analyzer(h.identity())
    raw = Matcher(analyzer.needles.forms, engine="hyperscan")
    bodies = [f.request.content for f in flows]

    start = time.perf_counter()
    found = sum(len(analyzer.analyze(flow).findings) for flow in flows)
    analysis_s = time.perf_counter() - start
    start = time.perf_counter()
    raw_hits = sum(len(raw.scan(body).hits) for body in bodies)
    raw_s = time.perf_counter() - start
    return AnalysisSpeed(len(flows), total / _MB, len(analyzer.needles.forms), total / _MB / analysis_s,
                         total / _MB / raw_s, found, raw_hits)


@pytest.mark.bench
def test_bench_analysis_vs_raw_scan() -> None:
    r = measure_analysis()
    print(
        f"\nanalysis of {r.flows} flows, {r.megabytes:.1f} MB ({r.needles} needles): "
        f"{r.analysis_mbs:.1f} MB/s, {r.findings} findings; bare hyperscan scan of the same bodies: "
        f"{r.raw_mbs:.0f} MB/s, {r.raw_hits} raw hits; analysis/raw = {r.analysis_mbs / r.raw_mbs:.3f}"
    )
    assert r.findings > 0
