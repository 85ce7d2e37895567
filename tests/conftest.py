"""Run order for the harness's own tests.

`make test` hands whole files to its workers (`--dist loadfile`: a module's gate runs and labs are
set up once), each to the next free worker in collection order. The files that run gates, chaos and
racks take most of the time, so they go first: the last files handed out are then short ones and
the workers end together.
"""

from __future__ import annotations

import os
import tracemalloc

import pytest

#: the longest first (each is a gate, a lab or a rack per test); everything else keeps its order
FIRST = (
    "tests/gate/test_gate.py",
    "tests/chaos/test_soundness.py",
    "tests/chaos/test_faults.py",
    "tests/scale/",
    "tests/gate/",
    "tests/fuzz/test_fuzz_short.py",
    "tests/lab/",
    "tests/chaos/",
    "tests/security/",
)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((i for i, prefix in enumerate(FIRST) if path.startswith(prefix)), len(FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the order within a file, and among the rest, is pytest's


def pytest_configure(config: pytest.Config) -> None:
    # DEVICELAB_TRACE_LEAKS=1: a socket left open is reported with where it was made (in the test
    # processes only, not in the gates they start: slower, for hunting one)
    if os.environ.get("DEVICELAB_TRACE_LEAKS"):
        tracemalloc.start(10)
