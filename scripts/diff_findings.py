"""Findings and notes of two builds of the analysis over one corpus, compared flow by flow.

    .venv/bin/python scripts/diff_findings.py [--base main] [--mb 16]

The corpus is made once (the bench's mixed corpus, variants of it that carry identifiers in more
places, and the real captures) and pickled; each build analyses it in a process of its own (the base
ref exported with `git archive`, the working tree as it is). Exit 1 on any difference: a finding
(kind, identifier, where, decoders, variant, detail) or a note that one build has and the other lacks.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import pickle
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import pickle, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from devicelab.analysis.scan import Analyzer
import devicelab; assert devicelab.__file__.startswith(sys.argv[1]), devicelab.__file__
from devicelab.model.identity import load_identity
flows = pickle.load(open(sys.argv[2], "rb"))
analyzer = Analyzer(load_identity(Path(sys.argv[4])))
out = []
for flow in flows:
    result = analyzer.analyze(flow)
    out.append((sorted((f.kind, f.identifier, f.where, f.decoders, f.variant, f.detail) for f in result.findings),
                sorted((n.where, n.decoder, n.problem) for n in result.notes)))
pickle.dump(out, open(sys.argv[3], "wb"))
"""


def _variants(rng: random.Random, imei: str) -> list[tuple[bytes, dict[str, str]]]:
    """Bodies that carry the IMEI where the mixed corpus seldom puts it: near escapes, in runs, nested."""
    doc = f'{{"a": "{os.urandom(8).hex()}", "n": -5, "f": 1e3, "m": "{imei}"}}'.encode()
    blob = os.urandom(rng.randrange(16, 40000))
    cut = rng.randrange(len(blob) + 1)
    return [
        (blob[:cut] + imei.encode() + blob[cut:], {"Content-Type": "application/octet-stream"}),
        (blob[:cut] + urllib.parse.quote(imei[:7]).encode() + b"%3" + imei[7:8].encode() + imei[8:].encode()
         + blob[cut:], {"Content-Type": "application/octet-stream"}),
        (base64.b64encode(gzip.compress(doc)), {"Content-Type": "text/plain"}),
        (b"x=" + urllib.parse.quote(base64.b64encode(doc)).encode() + b"&y=" + os.urandom(6).hex().encode(),
         {"Content-Type": "application/x-www-form-urlencoded"}),
        (gzip.compress(b"[" + b",".join([doc] * rng.randrange(1, 400)) + b"]"),
         {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
        (gzip.compress(doc)[:-rng.randrange(1, 20)], {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
        (b"not json" + doc, {"Content-Type": "application/json"}),
        (b"lorem " * rng.randrange(1, 9000) + base64.b64encode(doc), {"Content-Type": "text/plain"}),
    ]


def make_corpus(megabytes: int) -> list[object]:
    sys.path.insert(0, str(ROOT))
    from tests.analysis import helpers as h
    from tests.bench.test_bench_analysis import _corpus, _real

    rng = random.Random(17)
    flows: list[object] = [*_corpus(megabytes * 1024 * 1024), *_real(4 * 1024 * 1024)]
    for index in range(300):
        for body, headers in _variants(rng, h.IMEI):
            flows.append(h.make_flow(body, headers=headers, index=index,
                                     path=rng.choice(["/c", f"/c?id={h.IMEI}&x=%41", "/c?q=" + os.urandom(4).hex()])))
    return flows


def export(ref: str, into: Path) -> Path:
    git = shutil.which("git") or "git"
    archive = subprocess.run([git, "-C", str(ROOT), "archive", ref, "devicelab"], check=True,
                             capture_output=True, timeout=120).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(tree: Path, corpus: Path, out: Path) -> list[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
    identity = ROOT / "fixtures" / "identities" / "nokia7plus-telenor.yaml"
    subprocess.run([sys.executable, "-c", _CHILD, str(tree), str(corpus), str(out), str(identity)], check=True,
                   timeout=3600)
    with out.open("rb") as handle:
        result: list[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]] = pickle.load(handle)  # noqa: S301 - our own child's output
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--mb", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diff-findings-") as tmp:
        work = Path(tmp)
        flows = make_corpus(args.mb)
        corpus = work / "corpus.pickle"
        corpus.write_bytes(pickle.dumps(flows))
        base = run(export(args.base, work / "base"), corpus, work / "base.pickle")
        head = run(ROOT, corpus, work / "head.pickle")
    differ = [i for i, (a, b) in enumerate(zip(base, head, strict=True)) if a != b]
    findings = sum(len(f) for f, _n in head)
    notes = sum(len(n) for _f, n in head)
    print(f"{len(flows)} flows, {findings} findings, {notes} notes; {len(differ)} flows differ")
    for index in differ[:10]:
        print(f"flow {index}:\n  base {base[index]}\n  head {head[index]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
