"""Analysis throughput against a bare hyperscan scan of the same needles over the same bytes.

Two corpora: `mixed` (JSON, forms, Base64, gzip, random binary and text bodies, 5 % carrying an
IMEI) and `real` (the real captures in ../shared/realdata/traffic repeated to the same size; their
bytes are mostly URLs and headers, so both sides scan host, path, header values and body).

Where the time went (issue 17). cProfile of `analyze` over 8 MB of the mixed corpus (414 flows);
figures are shares of the profiled time, which the profiler inflates for Python calls.

Before: 0.32 s profiled; 54-57 MB/s unprofiled, 0.026-0.033 of bare hyperscan. Every value was
walked and every decoder tried on it.
    Base64 discovery      45 %  hex runs in every JSON body found, checked and skipped one by one
    form/JSON walking     15 %  40 fields per form body visited, each a scan and a location check
    matching              11 %  one Matcher.scan per value (~4,900), ~8 us of Python around each
    location               8 %  a pair search in every value, a group check per object
    %XX decoding           4 %  unquote_to_bytes over 64 KB of random binary, a Python step per '%'
    content types          3 %  email.Message parsing the same Content-Type in every flow
    JSON / protobuf parse  4 %  json.loads and bbpb
    decompression, building and pruning findings under 1 % each. Reading is not in the bench (the
    flows are built in memory) and the forms are hashed once per identity (build_needles), not per flow.

After: 0.061 s profiled; 210-245 MB/s unprofiled, 0.06-0.10 of a bare scan that itself got faster
(Matcher.scan lost ~8 us of Python per call). One gate pass (devicelab/analysis/prefilter.py: every
needle form plus the traces a decoder needs) decides whether a value's parts can hold anything; a
quiet request is judged from one pass over its URL and headers and one over its inflated body.
    hyperscan              22 %  the gate's pass over every byte, second looks, matcher on loud values
    walker Python          36 %  quiet() per flow, walks of loud values (Base64 bodies, binary, needles)
    JSON parse              7 %  a declared JSON body is still parsed: an invalid one leaves a note
    Base64 decode / runs    5 %  Base64 bodies; a quiet value of 16 KB+ still counts its runs (a note)
    protobuf                5 %  binary is still offered to bbpb (twice when %XX decoding changed it)
    decompression           4 %
    location, forms, findings under 1 % each.
What stays costly, per flow: random binary (~120 us: the gate pass, bbpb, %XX decoding and a second
walk of the decoded bytes), gzip and Base64 bodies (~85 us: decoded to many times the bytes the bare
scan reads), and ~10-15 us of Python per quiet request. On the real captures (one 128 KB JSON body
of thousands of values dominates them) the analysis walks value by value: 2.5 -> 2.8 MB/s (CPU time).

Second round (issue 17, continued). The bench now takes turns every 32 flows and times CPU time on
both sides: run one after the other in wall-clock time, the ratio of one build swung 0.059-0.077 on a
shared machine. Three alternating runs each, `-m bench -k mixed`: before 0.083 / 0.076 / 0.080,
after 0.085 / 0.084 / 0.080 (206-210 MB/s). The same work per kind of body, CPU time, the best of five
warm runs of each of 240 flows (warm reads ~1.5x faster than the bench's one cold pass, on both sides):

    us per flow          before   after   floor   bare
    Base64 JSON (49)       77.5    64.1    35.1    2.3   pybase64 decodes a 5.5 KB run in 0.7 us, not 12
    gzip JSON (48)         73.2    65.8    46.8    1.2   the count of Base64 runs (20 us) only past a
                                                          cheap count of alphabet characters (6.5 us)
    JSON (33)              31.7    30.8    21.0    3.1
    random binary (40)     98.9    87.3    58.1   13.9   gate: 34 -> 25-29 us on 64 KB
    text (32)              48.5    45.1    37.3   11.2   gate: 37 -> 18-30 us on 54 KB
    form (38)              39.5    32.5     5.6    1.5   a form with the IMEI: 382 -> 244 us
    analysis/bare         0.081   0.092   0.149
The gate (prefilter.py) is two databases from 16 KB (each two- and three-byte trace added ~9 us per
54 KB of text to the needles' literal matcher), RUN is looked for only where both cases occur, and
the parts of a container that holds a needle and no decoder's trace get one gate pass each instead
of a walk (Walker._plain).

What bounds it. `floor` is the C-level work this design cannot skip, each call made once, no other
Python: the gate's pass over the URL and headers and every body and decoded body; inflating; decoding
Base64; parsing a declared or JSON-looking body (for its note and its numbers); offering binary to
bbpb, and its %XX-decoded copy; the Base64-run checks of a value of 16 KB or more. Of the floor's
8.4 ms per 240 flows (bare: 1.24 ms): gate passes ~3.9 ms (3.1x the bare scan: every byte the bare
scan reads, at 1.4-2.6x its cost per byte, plus every decoded byte, a gzip body inflating 25-fold),
decoders ~2.9 ms (JSON attempts 1.4, protobuf 0.6, inflate 0.5, %XX 0.3, Base64 0.2), run checks
~0.8 ms. The floor's ratio, 0.15, is the most this design reaches with no Python at all; the rest of
the time (~35 %) is the walker's Python, 8-30 us per flow. 0.30 needs the analysis within 3.3x of the
bare scan: the decoders and run checks alone are ~3.0x, so even a gate as cheap as the bare scan and
no Python would leave ~0.25. Reaching 0.30 means not doing work the findings and notes depend on
today: parsing declared JSON that is not JSON (only its note needs it), offering random binary to
bbpb, or decoding bytes the bare scan never reads.

Third round (issue 17, s17c). Profiled again by kind (`test_bench_analysis_by_kind` prints this
table in every bench run; below, main against this branch in one process, taking turns, the best of
25 warm runs on 8 MB), and each stage timed alone on the same bodies:

    us per flow          before   after    bare   where the time goes now (stages timed alone)
    Base64 JSON (77)       79.9    73.2     4.1   runs 10, decode 5, gate 5 + mixed 5 on the text and
                                                  5 on the decoded, JSON attempt 10; Python ~30
    gzip JSON (82)         87.9    76.5     1.7   inflate 11 (zlib's own), gate on the 17 KB inflated
                                                  17, declared-JSON note parse 10; Python ~30
    JSON (59)              43.3    37.7     4.8   gate 10, note parse 10; Python ~15
    random binary (66)    152.5   125.7    17.6   gate 15 + RUN 25 + escapes 15, %XX copy 9, bbpb 5
                                                  twice, windows 6; Python ~20
    text (56)              50.2    47.9    12.4   gate 14-19 + traces 4, RUN (the Base64-run note) 14
    form (74)              32.5    26.6     2.0   a tiny request: 12 -> 10 us (3 of it hyperscan)
    analysis/bare         0.088   0.102
The bench itself, main and this branch taking turns three times: mixed 0.084 / 0.084 / 0.085 before,
0.093 / 0.090 / 0.098 after; real captures 0.002-0.003 both.

What changed: a binary value of 16 KB+ gets the escape pass instead of the traces' pass (a control
byte makes it loud whatever its traces, and the walk needs where its escapes are next); the runs look
uses the probe's RUN when the probe looked, and runs are looked at only where both cases occur (a
small value was probed twice); the many-runs check starts at 17 x 1000 - 1 bytes (each run is 16
characters of the alphabet and ends at a byte that is not one); bbpb's refusal is worded only when a
note reads it; the %XX copy joins slices of a view; one whole zlib stream is returned as zlib made it
(no copies); the JSON note parse reuses a decoder per thread (json.loads built one per call).
Findings, locations, decoder chains and notes are identical (scripts/diff_findings.py over 16 MB of
this corpus, identifier-carrying variants and the real captures: 4,029 flows, 0 differ).

Why 0.30 is still out of reach. At 0.30 one flow of each kind may take 142 us (bare: 42.6). The C
work alone, each stage timed above, is ~250 us: random binary ~90 (four passes over 64 KB where the
bare scan makes one, plus bbpb and the %XX copy), gzip ~50, Base64 ~45, text ~35, JSON ~22, form ~5,
so with no Python at all the ratio is ~0.17. Putting RUN or the traces in the gate's main database was
measured again and is slower than separate passes (text: 38 vs 34 us; random: 62 vs 60 us), and every
stage left is one a finding or a note depends on: the RUN pass finds the Base64 runs (and counts them
for the decode_limit note), the declared-JSON parse words its note, bbpb is the only protobuf decoder.
What would move it: the walker in compiled code (its Python is now ~40 % of the time: ~7 us a request
before any body, 15-30 us per decoded layer), a JSON parser that validates without building the tree
(the note's parse is 10 us where hyperscan reads the body in 3), and, for the real captures (0.003,
one 128 KB JSON body walked value by value, ~8 us of Python per value), walking the strings of a
parsed document as one buffer rather than one visit each.

Fourth round (issue 17, s17d). Main against this branch in one process, taking turns kind by kind, the best
of 12 warm runs on 8 MB (CPU time, a shared machine at load 3-4; identifier-carrying flows apart):

    us per flow          before   after    bare   what changed
    Base64 JSON (76)       70.4    54.3     3.9   a body that is one run is found and decoded by pybase64's
                                                  validating decoder alone (6 us; translate and regex: 14);
                                                  the decoded document's "Extra data" told by orjson
    JSON (55)              34.6    28.3     4.5   the note's parse: orjson (5 us; json: 9-14)
    form (70)              12.8    11.2     1.8   a Content-Type's parameters only for multipart; header lookups
    gzip JSON (82)         77.9    69.0     1.9   the note's parse
    random binary (66)    130.2   113.8    18.2   bbpb is asked only where its first pass could frame the fields
                                                  (structured.unframed: 1.3 us a refusal, bbpb 6.2)
    text (56)              49.1    46.8    13.4   (nothing: three passes, see below)
    JSON with the IMEI (4) 111.3   69.4    10.0
    form with the IMEI (4) 293.4  181.4     6.5   the fields looked at in one pass (below)
    analysis/bare         0.103   0.122           (27.7 -> 23.4 ms for the lot)
This file's bench, six runs of this branch: mixed 0.107 / 0.115 / 0.119 / 0.111 / 0.105 / 0.115 (by kind:
0.114 / 0.118 / 0.119 / 0.121 / 0.118 / 0.114), real captures 0.006 in each. Main and this branch taking
turns (measure_analysis, one process per run, three each, twice): mixed 0.091 / 0.091 / 0.093 and 0.101 /
0.096 / 0.103 before, 0.106 / 0.108 / 0.110 and 0.122 / 0.110 / 0.118 after; real 0.0024-0.0031 before,
0.0059-0.0066 after.

The real captures went 2.4x: their 128 KB crash report (3,561 values, loud with JSON escapes) 43 -> 14 ms.
A parsed document's strings and numbers, and a form's fields, are looked at in one gate pass over them all
(Gate.spots: where each needle and loud trace ends, joined by a quote; parts.quiet_parts); only a part
with something in it is visited, and the objects go to the locator only when its hints show a latitude and
a longitude among the parts. A short part with nothing but Base64 runs (a camelCase or dotted name: 1,100
of them in the crash report) has its runs decoded there, each name once, and the decoded bytes looked at in
a second pass; most are binary that protobuf refuses at once, and count as the visit would count them.
Parts of 256 bytes or more are visited as before: the gate's own look at a value also weighs the limits.

What did not pay, measured: mypyc (decoders, prefilter, structured, matcher and scan compiled, ~28 s: no
gain, Base64 slower: the time is in C calls, not in the bytecode between them); python-isal (inflates 17 KB in
5.3 us, zlib 9.1, but the analysis of the same flows was 3-5 us slower with it); counting quotes and spaces to
rule out 1,000 Base64 runs (CPython's bytes.count of one byte walks every byte, as slowly as translate). Two
traps on the way: callgrind's instruction counts favoured two-byte searches that CPython walks byte by byte,
and an error held in a local of the frame it was raised from made a reference cycle per refused JSON body,
whose collections slowed every later flow (random binary 120 -> 300 us in the bench's one cold pass): the
property tests in tests/analysis (test_structured, test_decoders, test_prefilter) and a no-cycle test hold
these paths to the slow ones, and scripts/diff_findings.py showed 0 of 4,029 flows differing after each step.

Why 0.30 is still out of reach. The C work per flow now, each stage timed alone (unloaded): text three passes
over 54 KB (needles and classes 14, traces 3.5, RUN 14.5 for the many-runs note; bare 11); random binary
three over 64 KB (15, escapes 7, RUN 8; bare 14), the %XX copy and its windows; gzip JSON inflating 700 bytes
to 17 KB (9), the gate's two passes over them (11), the alphabet count for the many-runs note (6.5) and the
note's parse (5), where the bare scan reads the 700 compressed bytes (1.9). With no Python at all that is
~0.25-0.28; the walker's Python is ~30 % of the time left (~6 us a quiet request, 15-25 per decoded layer).

Fifth round (issue 17). decoders.py is split by job (segments, content, base64_runs, percent, parts; no hot
path gained a call), and the Base64-run bound counts the runs the walker decodes (letters of both cases) and,
apart, the runs it looks at (20,000): a one-case value (lower-case text, most JSON) cannot reach the first, so
it skips the RUN pass and the alphabet count that only that note needed. This file's by-kind table, main before
and after taking turns, three runs each: text 49-78 -> 31-48 us (0.25 -> 0.38-0.41 of bare), gzip JSON 69-113 ->
60-65 (0.024 -> 0.027), the rest unchanged; all kinds 0.111-0.120 -> 0.120-0.149. The mixed row (one cold pass)
stayed within its noise: 0.105-0.123 before, 0.108-0.117 after. scripts/diff_findings.py: 0 of 4,029 flows differ.

The C floor, measured again on what the bench reads (66 distinct 64 KB random bodies, 4 MB: each pass reads them
from beyond the L2 cache, so these are ~2x the warm figures above): the gate's main pass 15 us (bare: 17.5 for
the same bytes), escapes 10-14, RUN 25-29. RUN as {15}, {12} or {8} characters: 59-93 us (hyperscan picks a
slower engine); after a byte outside the alphabet (one match per run): 1,214 us; escapes and RUN in one database:
41 (apart: 39). So a random binary body costs ~50 us of hyperscan alone, 2.9x its bare scan, before the %XX copy,
protobuf's refusal and any Python. Per kind the C floor is then ~160 us for the six (bare: 41): 0.25 with no
Python at all, as the fourth round found. 0.30 needs the analysis to skip a pass the findings or the notes depend
on (RUN in binary finds Base64 runs; the escapes find %XX; the inflated bytes are where a gzip body's needles are).

Sixth round (issue 17): the walk in C. A C module (devicelab/analysis/_c, built by bootstrap) follows the walker's
steps for a request and answers with the notes the walk would leave and the segments it would hand the matcher
(those with a needle or a position in them), or leaves the request to the walker (quiet_path.py, prove.c). What
the fifth round measured as the floor was the floor of that design: Python around every pass, and the traces found
by three extra hyperscan passes. Now, per request, the needle database is one hyperscan pass over each value it
reaches (as the bare scan makes), the decoders' traces one AVX2 pass (traces.c: 64 KB of random bytes in ~5 us,
where the traces, RUN and escapes passes took ~26), a declared JSON body is read to the end of its first value
without building it (json.c: 0.8 us for the 12 KB of the JSON kind, where orjson and json took 5.5-6), gzip is
inflated by libdeflate (4.5 us for 17 KB, zlib 8.4), a %XX copy of binary is told from windows around its escapes,
and a plain form with a needle is taken apart as parse_qsl and parts.quiet_parts would. Main before and after,
each in its own process taking turns (`python measure.py ROOT` over this file's measure_kinds and measure_analysis),
us per flow, CPU time, best of 5 warm runs:

    us per flow          before   after    bare   where the time goes now
    Base64 JSON (77)       56.3    13.3     3.2   needles over the text and the decoded run, pybase64, the traces
    JSON (59)              31.7    12.0     4.2   needles 12 KB, traces 1.5, the first document read and the note worded
    form (74)              23.2     7.3     1.7   2.7 a quiet form; 35 one with the IMEI (was ~200: the walker's)
    gzip JSON (82)         60.9    22.5     1.2   libdeflate 4.5, needles over 17 KB inflated, traces, the raw body
    random binary (66)    109.4    29.7    15.3   needles 64 KB (the bare scan's pass) + traces 5 + the %XX copy
    text (56)              32.0    20.0    11.5   needles 54 KB + traces 4
    analysis/bare    0.119-0.128   0.315-0.325
The mixed row (this file's measure_analysis, one cold pass, the two sides taking turns every 32 flows, who goes
first alternating): 0.117-0.123 before, 0.337-0.376 after (three runs each: 0.299-0.307 with the analysis always first,
whose bodies the bare scan then reads warm; 0.40 with the bare scan always first). The real captures stay 0.005-0.006:
their URLs carry tokens (Base64 runs of both cases) and %XX, so every request is the walker's.

Findings and notes are unchanged: scripts/diff_findings.py, 0 of 4,029 flows differ; every analysis test passes on
the prover; tests/analysis/test_quiet_path.py compares the prover with the walker on hostile and generated requests
(an identifier behind every decoder, escapes that make runs and escapes, forms, tight limits). What is left: the
walker still takes JSON documents it must walk value by value (a parsed document with a needle, the real captures'
crash report), forms with %XX or '+', multipart and protobuf.
"""

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
from devicelab.analysis.readers import read_capture
from devicelab.analysis.scan import Analyzer
from devicelab.model.traffic import Flow
from tests.analysis import helpers as h
from tests.analysis.helpers import make_flow

_MB = 1024 * 1024
_CHUNK = 32  # flows each side scans in its turn
#: The real captures: the shared copy when this checkout sits beside it, else the test data's copy.
REAL_TRAFFIC = next((p for p in (h.ROOT.parent / "shared" / "realdata" / "traffic", h.DATA) if p.is_dir()), h.DATA)


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


def _real(total: int) -> list[Flow]:
    """The real captures' flows, repeated until their bytes reach `total`."""
    captured = [flow for path in sorted(REAL_TRAFFIC.glob("*.har")) for flow in read_capture(path).flows]
    assert captured, f"no captures in {REAL_TRAFFIC}"
    flows: list[Flow] = []
    size = 0
    while size < total:
        for flow in captured:
            flows.append(flow)
            size += len(_request_bytes(flow))
    return flows


def _request_bytes(flow: Flow) -> bytes:
    """What the analysis reads of a request: host, path, header values and body."""
    request = flow.request
    head = "\n".join([request.host, request.path, *(value for _, value in request.headers)])
    return head.encode("utf-8", "surrogateescape") + b"\n" + request.content


@dataclass(frozen=True)
class AnalysisSpeed:
    corpus: str
    flows: int
    megabytes: float
    needles: int
    analysis_mbs: float
    raw_mbs: float
    findings: int
    raw_hits: int

    @property
    def ratio(self) -> float:
        return self.analysis_mbs / self.raw_mbs


def measure_analysis(megabytes: int = 32, corpus: str = "mixed") -> AnalysisSpeed:
    """Analysis MB/s and a bare hyperscan scan's MB/s over the same bytes, side by side in one run.

    `mixed`: the bare scan reads each body (the analysis also reads the few bytes of URL and headers);
    `real`: it reads each request's host, path, header values and body (see _request_bytes).
    """
    flows = _corpus(megabytes * _MB) if corpus == "mixed" else _real(megabytes * _MB)
    bodies = [f.request.content for f in flows] if corpus == "mixed" else [_request_bytes(f) for f in flows]
    total = sum(len(b) for b in bodies)
    analyzer = Analyzer(h.identity())
    raw = Matcher(analyzer.matcher.forms, engine="hyperscan")

    # Side by side: the two take turns every _CHUNK flows, and each is timed in the CPU time of this
    # process, so that the load other processes put on a shared machine falls on both sides alike. Who
    # goes first alternates: the second reads the chunk's bodies from the cache the first filled (measured:
    # analysis always first 0.32, bare always first 0.40, alternating 0.355).
    found = raw_hits = 0
    analysis_s = raw_s = 0.0
    for turn, at in enumerate(range(0, len(flows), _CHUNK)):
        for side in ((0, 1) if turn % 2 == 0 else (1, 0)):
            start = time.process_time()
            if side == 0:
                found += sum(len(analyzer.analyze(flow).findings) for flow in flows[at:at + _CHUNK])
                analysis_s += time.process_time() - start
            else:
                raw_hits += sum(len(raw.scan(body).hits) for body in bodies[at:at + _CHUNK])
                raw_s += time.process_time() - start
    return AnalysisSpeed(corpus, len(flows), total / _MB, len(analyzer.matcher.forms), total / _MB / analysis_s,
                         total / _MB / raw_s, found, raw_hits)


def _kind(flow: Flow) -> str:
    """Which of the mixed corpus's bodies a flow carries (its headers tell)."""
    if flow.request.header("content-encoding"):
        return "gzip JSON"
    return {"application/json": "JSON", "application/x-www-form-urlencoded": "form",
            "application/encrypted-json": "Base64 JSON", "application/octet-stream": "random binary",
            "text/plain": "text"}[flow.request.header("content-type") or ""]


def measure_kinds(megabytes: int = 8, repeats: int = 5) -> dict[str, tuple[int, float, float]]:
    """Per kind of body: flows, analysis and bare-scan CPU time per flow (us), the best of `repeats`
    warm runs, the two sides taking turns kind by kind (where the time goes, not the ratio's measure)."""
    flows = _corpus(megabytes * _MB)
    analyzer = Analyzer(h.identity())
    raw = Matcher(analyzer.matcher.forms, engine="hyperscan")
    groups: dict[str, list[Flow]] = {}
    for flow in flows:
        groups.setdefault(_kind(flow), []).append(flow)
    best: dict[str, list[float]] = {kind: [float("inf"), float("inf")] for kind in groups}
    for flow in flows:  # warm: the first look at a Content-Type is slower
        analyzer.analyze(flow)
    for _ in range(repeats):
        for kind, group in groups.items():
            start = time.process_time()
            for flow in group:
                analyzer.analyze(flow)
            middle = time.process_time()
            for flow in group:
                raw.scan(flow.request.content)
            end = time.process_time()
            best[kind] = [min(best[kind][0], middle - start), min(best[kind][1], end - middle)]
    return {kind: (len(group), best[kind][0] / len(group) * 1e6, best[kind][1] / len(group) * 1e6)
            for kind, group in sorted(groups.items())}


@pytest.mark.bench
def test_bench_analysis_by_kind() -> None:
    kinds = measure_kinds()
    print("\nus per flow (CPU, best of 5 warm runs)   analysis     bare   ratio")
    for kind, (count, analysis_us, raw_us) in kinds.items():
        print(f"{kind + f' ({count})':<40}{analysis_us:>9.1f}{raw_us:>9.1f}{raw_us / analysis_us:>8.3f}")
    total_analysis = sum(count * a for count, a, _r in kinds.values())
    total_raw = sum(count * r for count, _a, r in kinds.values())
    print(f"{'all':<40}{'':>18}{total_raw / total_analysis:>8.3f}")
    assert all(a > 0 and r > 0 for _count, a, r in kinds.values())


@pytest.mark.bench
@pytest.mark.parametrize("corpus", ["mixed", "real"])
def test_bench_analysis_vs_raw_scan(corpus: str) -> None:
    r = measure_analysis(corpus=corpus)
    print(
        f"\nanalysis of {r.flows} {corpus} flows, {r.megabytes:.1f} MB ({r.needles} needles): "
        f"{r.analysis_mbs:.1f} MB/s, {r.findings} findings; bare hyperscan scan of the same bytes: "
        f"{r.raw_mbs:.0f} MB/s, {r.raw_hits} raw hits; analysis/raw = {r.ratio:.3f}"
    )
    assert r.findings > 0
