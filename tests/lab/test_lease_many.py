"""`Lab.lease_many`: several handsets at once, all or none, so two runs never deadlock each other."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from devicelab.adb import AdbServer
from devicelab.errors import LeaseTimeoutError
from devicelab.lab.lab import Lab
from devicelab.lab.lease import LocalAllocator
from devicelab.model.inventory import Inventory
from tests.lab.test_lease import entry


def lab(state_dir: Path, count: int = 4) -> Lab:
    """A lab of `count` handsets whose leases work without starting anything (no handset is dialled)."""
    entries = tuple(entry(i) for i in range(count))
    the_lab = Lab(Inventory(name="rack", handsets=entries))
    the_lab.servers = {"local": AdbServer(port=1)}
    the_lab.allocator = LocalAllocator("rack", entries)
    return the_lab


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEVICELAB_STATE_DIR", str(tmp_path))
    return tmp_path


def test_all_handsets_are_held_then_released_with_their_times(state_dir: Path) -> None:
    rack = lab(state_dir)
    with rack.lease_many(3, {"model": "B2N"}, timeout=1) as held:
        assert len({h.handset.entry.id for h in held}) == 3
        assert all(h.released is None for h in held)
        with pytest.raises(LeaseTimeoutError):
            rack.lease_many(2, timeout=0.3).__enter__()  # only one left: all or none
    assert all(h.released is not None and h.released >= h.leased for h in held)
    with rack.lease_many(4, timeout=1) as again:  # every lease came back, also the partial one's
        assert len(again) == 4


def test_more_handsets_than_the_lab_has_is_one_clear_error_at_once(state_dir: Path) -> None:
    start = time.monotonic()
    with pytest.raises(LeaseTimeoutError, match="5 handsets wanted, but lab 'rack' has only 4"):
        lab(state_dir).lease_many(5, {"model": "B2N"}, timeout=30).__enter__()
    assert time.monotonic() - start < 1


def test_two_runs_wanting_three_of_four_both_get_them_in_turn(state_dir: Path) -> None:
    rack = lab(state_dir)
    guard = threading.Lock()
    in_use: set[str] = set()
    problems: list[str] = []

    def run(name: str) -> None:
        try:
            with rack.lease_many(3, timeout=30, holder=name) as held:
                ids = {h.handset.entry.id for h in held}
                with guard:
                    if ids & in_use:
                        problems.append(f"{name}: {ids & in_use} used twice at once")
                    in_use.update(ids)
                time.sleep(0.3)
                with guard:
                    in_use.difference_update(ids)
        except Exception as exc:  # reported below
            problems.append(f"{name}: {exc}")

    threads = [threading.Thread(target=run, args=(f"run-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert problems == []
    assert not any(t.is_alive() for t in threads)
