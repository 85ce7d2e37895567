"""Run order for the harness's own tests.

`make test` hands whole files to its workers (`--dist loadfile`: a module's gate runs and labs are
set up once), each to the next free worker in collection order. The files that run gates, chaos and
racks take most of the time, so they go first: the last files handed out are then short ones and
the workers end together.
"""

from __future__ import annotations

import os
import socket
import traceback
import warnings
from typing import Any

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


#: where each socket of this process was made, by id (a socket being finalized has lost its weak
#: references), while DEVICELAB_TRACE_LEAKS is set; a new socket with the same id takes the entry
_made: dict[int, list[str]] = {}


def pytest_configure(config: pytest.Config) -> None:
    # DEVICELAB_TRACE_LEAKS=FILE: each socket left open is written to FILE with where it was made (in
    # the test processes, not in the gates they start; a file: xdist shows no worker's stderr).
    # Cheaper than tracemalloc: only sockets are traced
    if not os.environ.get("DEVICELAB_TRACE_LEAKS"):
        return
    made = socket.socket.__init__

    def traced(self: socket.socket, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        _made[id(self)] = traceback.format_stack(limit=12)[:-1]

    socket.socket.__init__ = traced  # type: ignore[method-assign]


def pytest_warning_recorded(warning_message: warnings.WarningMessage, nodeid: str) -> None:
    source = warning_message.source
    sock = source if isinstance(source, socket.socket) else getattr(source, "_sock", None)
    stack = _made.get(id(sock)) if isinstance(sock, socket.socket) else None
    if stack:
        with open(os.environ["DEVICELAB_TRACE_LEAKS"], "a") as out:
            out.write(f"{warning_message.message} (reported in {nodeid or 'the session'}); the socket was made at:\n"
                      + "".join(stack) + "\n")
