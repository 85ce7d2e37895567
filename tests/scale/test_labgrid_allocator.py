"""The labgrid allocator against a real coordinator and exporter on loopback."""

from __future__ import annotations

import re
import threading
import time

import pytest

from devicelab.errors import LeaseTimeoutError
from devicelab.lab.labgrid_allocator import LabgridAllocator, LabgridClient, LabgridLease, place_tags
from tests.scale.conftest import EXPORTER, handsets


def acquired_places(client: LabgridClient) -> set[str]:
    return {line.split()[0] for line in client.run("places", "--acquired").splitlines() if line.strip()}


def reservations(client: LabgridClient) -> list[str]:
    return re.findall(r"^Reservation '(\w+)'", client.run("reservations"), re.MULTILINE)


def allocator(client: LabgridClient) -> LabgridAllocator:
    """An allocator over the places the fixture published, which every test leaves free."""
    assert acquired_places(client) == set()
    return LabgridAllocator(client.coordinator, handsets(), client=client)


def test_place_tags_mirror_inventory_matching() -> None:
    entry = handsets()[3]
    assert place_tags(entry) == {"model": "B2N", "sku": "00WW", "region": "eu", "sim": "none"}
    assert entry.matches(place_tags(entry))


def test_one_reserve_lock_release_cycle(coordinator: LabgridClient) -> None:
    lab = allocator(coordinator)
    lab.publish(exporter=EXPORTER)  # publishing again is harmless
    assert "virtual-0" in coordinator.run("show", place="virtual-0")
    lease = lab.acquire({"model": "B2N", "sim": "telenor-no"}, timeout=20, holder="cycle test")
    assert lease.entry.sim == "telenor-no"
    shown = coordinator.run("show", place=lease.place)
    assert "cycle test" in shown
    assert f"{EXPORTER}/{lease.entry.id}/NetworkService" in shown  # the place's resources are locked with it
    assert acquired_places(coordinator) == {lease.entry.id}
    lease.release()
    lease.release()  # idempotent
    assert acquired_places(coordinator) == set()
    assert reservations(coordinator) == []


@pytest.mark.slow  # ~12 s of labgrid-client calls; the cycle and no-match tests keep the allocator in make test
def test_waits_then_times_out_and_cancels_its_reservation(coordinator: LabgridClient) -> None:
    lab = allocator(coordinator)
    held = [lab.acquire({"sim": "telenor-no"}, timeout=20) for _ in range(2)]
    assert {h.entry.id for h in held} == {"virtual-0", "virtual-1"}
    start = time.monotonic()
    with pytest.raises(LeaseTimeoutError, match="sim=telenor-no"):
        lab.acquire({"sim": "telenor-no"}, timeout=2)
    assert time.monotonic() - start < 10
    assert len(reservations(coordinator)) == 2  # the timed-out one is gone
    for lease in held:
        lease.release()
    assert reservations(coordinator) == []


def test_no_matching_handset_is_one_clear_error(coordinator: LabgridClient) -> None:
    lab = allocator(coordinator)
    with pytest.raises(LeaseTimeoutError, match="no handset in the labgrid lab matches model=TA-1000"):
        lab.acquire({"model": "TA-1000"}, timeout=1)
    assert reservations(coordinator) == []


@pytest.mark.slow
def test_two_lessees_share_four_handsets(coordinator: LabgridClient) -> None:
    lab = allocator(coordinator)
    guard = threading.Lock()
    in_use: set[str] = set()
    used: list[str] = []
    errors: list[str] = []

    def lessee(name: str) -> None:
        try:
            for _ in range(3):
                leases: list[LabgridLease] = []
                try:
                    for _ in range(2):
                        lease = lab.acquire({"model": "B2N"}, timeout=60, holder=name)
                        leases.append(lease)
                        with guard:
                            if lease.entry.id in in_use:
                                errors.append(f"{lease.entry.id} leased twice at once")
                            in_use.add(lease.entry.id)
                            used.append(lease.entry.id)
                    time.sleep(0.3)
                finally:
                    for lease in leases:
                        with guard:
                            in_use.discard(lease.entry.id)
                        lease.release()
        except Exception as exc:  # reported by the main thread
            errors.append(f"{name}: {exc}")

    threads = [threading.Thread(target=lessee, args=(f"run-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(used) == 12
    assert set(used) == {e.id for e in handsets()}
    assert acquired_places(coordinator) == set()
    assert reservations(coordinator) == []


@pytest.mark.slow  # timing-sensitive: run on a quiet machine (`-m slow`)
def test_waiting_reservation_gets_the_released_handset(coordinator: LabgridClient) -> None:
    lab = allocator(coordinator)
    held = [lab.acquire({"sim": "telenor-no"}, timeout=20) for _ in range(2)]
    got: list[LabgridLease] = []
    waiter = threading.Thread(target=lambda: got.append(lab.acquire({"sim": "telenor-no"}, timeout=30)))
    try:
        waiter.start()
        time.sleep(1.5)
        assert got == []  # still waiting: both telenor handsets are held
        released = time.monotonic()
        held[0].release()
        waiter.join(35)
        assert got
        assert got[0].entry.id == held[0].entry.id
        # cancelling the reservation makes the coordinator reschedule at once, not at its 15 s poll
        assert time.monotonic() - released < 10
    finally:
        waiter.join(35)
        for lease in [*held, *got]:
            lease.release()
    assert reservations(coordinator) == []
