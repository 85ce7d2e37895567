"""The socket sampler's blind stretches: failed samples (adb down) longer than a few intervals are
a coverage gap naming the span, so the verdict cannot be a pass; a hiccup is not, and neither is
a stretch across a reboot of the handset (a note says so)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devicelab.adb import ShellResult
from devicelab.analysis.verdict import evaluate
from devicelab.capture.coverage import ProxyView
from devicelab.capture.evidence import read_evidence
from devicelab.capture.records import Record
from devicelab.capture.sampler import GAP_INTERVALS, SocketSampler
from devicelab.errors import AdbError
from devicelab.model.policy import Policy

INTERVAL = 60.0  # real seconds: the sampler's own thread never samples during a test
T0 = 1_764_000_000.0  # 2025-11-24 16:00:00 UTC
HEADER = {"evidence": "devicelab-capture", "version": 1, "ts": T0, "mode": "regular", "canary_host": "canary.test"}
TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


class ScriptedHandset:
    """A shell whose adb link can be cut, and whose boot id can change (a reboot)."""

    serial = "SAMPLER01"

    def __init__(self) -> None:
        self.down = False
        self.boot_id = "boot-1"

    def shell(self, command: str, *, timeout: float | None = None, check: bool = False) -> ShellResult:
        if self.down:
            raise AdbError("device offline", serial=self.serial, step=f"shell {command}")
        if command.startswith("cat /proc/net/"):
            return ShellResult(command, TCP_HEADER, "", 0)
        if command == "cat /proc/sys/kernel/random/boot_id":
            return ShellResult(command, self.boot_id + "\n", "", 0)
        return ShellResult(command, "package:com.android.chrome uid:10061\n", "", 0)


class Log:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def write(self, record: Record) -> bool:
        self.records.append(record)
        return True

    def of(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.get("kind") == kind]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rig() -> tuple[ScriptedHandset, Log, Clock, SocketSampler]:
    handset, log, clock = ScriptedHandset(), Log(), Clock()
    sampler = SocketSampler(handset, log, ProxyView(proxy=("127.0.0.1", 8080)), interval=INTERVAL, clock=clock)
    return handset, log, clock, sampler


def _samples(handset: ScriptedHandset, clock: Clock, sampler: SocketSampler, plan: str) -> None:
    """One sample per letter, an interval apart: `o` complete, `x` with adb down."""
    for step in plan:
        clock.now += INTERVAL
        handset.down = step == "x"
        sampler.sample()
    handset.down = False


def test_a_long_blind_stretch_is_a_gap_naming_its_span_and_the_verdict_is_not_a_pass(
        rig: tuple[ScriptedHandset, Log, Clock, SocketSampler], tmp_path: Path) -> None:
    handset, log, clock, sampler = rig
    sampler.start()
    try:
        _samples(handset, clock, sampler, "o" + "x" * (GAP_INTERVALS + 1) + "o")
    finally:
        sampler.stop()
    (gap,) = log.of("gap")
    since, until = T0 + INTERVAL, T0 + INTERVAL * (GAP_INTERVALS + 3)
    assert (gap["from"], gap["to"]) == (since, until)
    assert gap["detail"].startswith(f"socket table not read from 16:01:00.0 to 16:07:00.0 UTC ({until - since:.1f} s, "
                                    f"{GAP_INTERVALS + 1} failed sample(s))")
    assert sampler.blind == [(since, until)]
    # the evidence reader makes it a gap that counts: no pass, and the reason names the span
    path = tmp_path / "evidence.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [HEADER, *log.records, {"kind": "stop"}]))
    read = read_evidence(path)
    blind = [g for g in read.gaps if g.detail.startswith("socket table not read")]
    assert [g.kind for g in blind] == ["unproxied_connection"]
    verdict = evaluate([], read.flows, read.gaps, Policy(name="allows nothing"))
    assert verdict.outcome == "inconclusive"
    assert "16:01:00.0 to 16:07:00.0 UTC" in verdict.counted_gaps[0].detail


def test_a_hiccup_of_a_few_intervals_is_no_gap(rig: tuple[ScriptedHandset, Log, Clock, SocketSampler]) -> None:
    handset, log, clock, sampler = rig
    sampler.start()
    try:
        _samples(handset, clock, sampler, "o" + "x" * (GAP_INTERVALS - 1) + "o")
    finally:
        sampler.stop()
    assert log.of("gap") == []
    assert sampler.blind == []
    assert sampler.failures == GAP_INTERVALS - 1  # each failed sample still counts (and left a note)


def test_a_blind_stretch_across_a_reboot_is_a_note(rig: tuple[ScriptedHandset, Log, Clock, SocketSampler]) -> None:
    handset, log, clock, sampler = rig
    sampler.start()
    try:
        _samples(handset, clock, sampler, "o" + "x" * (GAP_INTERVALS + 2))
        handset.boot_id = "boot-2"  # the gate's own reboot trigger: the handset came back as a new boot
        _samples(handset, clock, sampler, "o")
        # the next stretch, in that same new boot, is a gap again
        _samples(handset, clock, sampler, "x" * (GAP_INTERVALS + 2) + "o")
    finally:
        sampler.stop()
    notes = [r["note"] for r in log.of("note") if "across a reboot" in r["note"]]
    assert len(notes) == 1
    assert len(log.of("gap")) == 1


def test_blind_until_the_capture_stops_is_a_gap(rig: tuple[ScriptedHandset, Log, Clock, SocketSampler]) -> None:
    handset, log, clock, sampler = rig
    sampler.start()
    _samples(handset, clock, sampler, "o" + "x" * (GAP_INTERVALS + 1))
    handset.down = True  # and the last sample at stop fails too
    clock.now += INTERVAL
    sampler.stop()
    (gap,) = log.of("gap")
    assert gap["to"] == clock.now
    assert gap["from"] == T0 + INTERVAL
