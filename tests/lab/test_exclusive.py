"""`pytest -n 4` over the 4 handsets of the embedded virtual lab: every test gets a handset of its
own, across xdist workers."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

INNER = '''
import json, os, time
import pytest

@pytest.mark.parametrize("n", range(8))
def test_uses_a_handset(handset, n):
    start = time.time()
    handset.shell("echo busy", check=True)
    time.sleep(0.4)
    with open(os.environ["LEASE_LOG"], "a") as log:
        log.write(json.dumps({"serial": handset.serial, "start": start, "end": time.time(),
                              "worker": os.environ.get("PYTEST_XDIST_WORKER")}) + "\\n")
'''


@pytest.mark.slow  # an xdist run of its own; tests/lab/test_lease*.py prove the leases directly
def test_each_test_gets_an_exclusive_handset_under_xdist(tmp_path: Path) -> None:
    suite = tmp_path / "test_inner.py"
    suite.write_text(INNER)
    log = tmp_path / "leases.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "4", "-p", "xdist", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(suite)],
                          capture_output=True, text=True, timeout=600, env={**os.environ,
                                                                            "LEASE_LOG": str(log)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    uses = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(uses) == 8
    assert len({u["worker"] for u in uses}) == 4
    by_handset: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for use in uses:
        by_handset[use["serial"]].append((use["start"], use["end"]))
    assert len(by_handset) >= 2
    for serial, spans in by_handset.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"{serial} was used by two tests at once"
