"""`make chaos`: run the gate on a build that passes, inject one fault per run at a step of the
run, and count what must never happen: a pass after a fault that took effect, or a hang.

    python -m devicelab.virtual.chaos [--runs 3] [--faults drop_adb,reboot] [--window 90]

Each run has its own virtual lab (its own state folder), so faults never reach another run's
handsets. A fault that could not be injected in time counts as missed, not as survived.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from devicelab.errors import DevicelabError
from devicelab.virtual.faults import FaultInjector

BUILD = "nokia7plus-00WW_3_22C_SP05"  # passes when nothing goes wrong
HARD_TIMEOUT = 240.0  # a run longer than this is a hang


@dataclass(frozen=True)
class Fault:
    """A fault of the chaos run: what to inject, when, and whether it strikes the window."""

    kind: str  # a devicelab.virtual.faults kind
    trigger: str  # the progress line that starts the step to hit
    seconds: float = 0.0
    #: "window": the observation is compromised, a pass is false. "setup": it strikes a step before
    #: the window; a pass means a bounded retry recovered and the whole window was still observed.
    phase: str = "window"


PLAN: dict[str, Fault] = {
    "drop_adb": Fault("drop_adb", "first boot", 2.0, "setup"),
    "drop_adb_window": Fault("drop_adb", "observing", 2.0),
    "reboot": Fault("reboot", "observing"),
    "boot_hang": Fault("boot_hang", "factory reset", phase="setup"),
    "fastboot_drop": Fault("fastboot_drop", "flashing", 3.0, "setup"),
    "ui_crash": Fault("ui_crash", "first boot", phase="setup"),
    "wifi_loss": Fault("wifi_loss", "observing"),
    "sim_removed": Fault("sim_removed", "observing"),
    "clock_jump": Fault("clock_jump", "observing", 3600.0),
}
LAB = """name: chaos
provider:
  kind: virtual
  options: {{count: 1, build: {build}, sim: telenor-no, boot_seconds: 0.5, clock_scale: 60}}
proxy: {{sample_interval: 0.25, canary_timeout: 5}}
timeouts: {{boot: 15, shell: 10, fastboot: 10, flash: 60, reboot_drop: 10, lease: 30}}
"""


@dataclass
class RunResult:
    fault: str
    code: int | None  # None: hung
    injected: bool
    seconds: float  # from injection (or start) to the end of the run
    detail: str = ""
    lost: int = 0  # completed flows in the run's capture that its verdict does not show


def run_once(fault: str | None, window: float, workdir: Path, timeout: float = HARD_TIMEOUT, *, build: str = BUILD,
             probe: Callable[[Path, int], None] | None = None) -> RunResult:
    """One gate run on its own virtual lab, with `fault` injected when the run reaches its step.
    No fault: `probe(state folder, gate pid)` is called once the window starts (tests look around)."""
    plan = PLAN[fault] if fault is not None else Fault("none", "observing")
    trigger = plan.trigger
    state = workdir / "state"
    lab = workdir / "lab.yaml"
    lab.write_text(LAB.format(build=build))
    env = {**os.environ, "DEVICELAB_STATE_DIR": str(state)}
    argv = [sys.executable, "-m", "devicelab", "gate", "--build", build, "--sim", "telenor-no", "--lab", str(lab),
            "--window", f"{window:g}", "--out", str(workdir / "out")]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    injected_at: list[float] = []
    details: list[str] = []
    output: list[str] = []

    def watch() -> None:
        assert proc.stdout is not None
        with proc.stdout:
            _read(proc.stdout)

    def _read(stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace")
            output.append(line)
            if not injected_at and trigger in line and "✓" not in line:
                if fault is None:
                    try:
                        if probe is not None:
                            probe(state, proc.pid)
                    except Exception as exc:  # reported by the caller, not lost in this thread
                        details.append(f"probe failed: {type(exc).__name__}: {exc}")
                    injected_at.append(time.monotonic())
                    continue
                applied, detail = _inject(state, plan.kind, plan.seconds)
                details.append(detail)
                if applied:
                    injected_at.append(time.monotonic())

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    started = time.monotonic()
    try:
        code: int | None = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:  # a hang, or Ctrl-C: the gate goes with us (its lab follows once no user is alive)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    reader.join(10)
    end = time.monotonic()
    (workdir / "gate.log").write_text("".join(output))
    since = injected_at[0] if injected_at else started
    return RunResult(fault or "none", code, bool(injected_at), end - since, "; ".join(details),
                     lost_flows(workdir / "out"))


def lost_flows(out: Path) -> int:
    """Answered flows in the evidence capture logs that a judged handset's verdict leaves out (by
    host and count). An unjudged handset keeps its flows in the evidence bundle: nothing is lost."""
    from devicelab.capture.evidence import read_evidence

    try:
        verdict = json.loads((out / "verdict.json").read_text())
    except (OSError, ValueError):
        return 0
    lost = 0
    for handset in verdict.get("handsets", []):
        if not handset.get("judged"):
            continue
        hid = handset["handset"]["id"]
        shown: dict[str, int] = {}
        for flow in handset.get("flows", []):
            shown[flow["host"]] = shown.get(flow["host"], 0) + int(flow.get("count", 1))
        for log in sorted((out / "evidence" / hid).glob("*.jsonl")):
            answered: dict[str, int] = {}
            for flow in read_evidence(log).capture.flows:
                if flow.status is not None:
                    answered[flow.host] = answered.get(flow.host, 0) + 1
            lost += sum(max(0, n - shown.get(host, 0)) for host, n in answered.items())
    return lost


def lab_state(state: Path) -> dict[str, object]:
    """The running virtual lab's state file (pid, adb port, handsets, control socket)."""
    found: dict[str, object] = json.loads((state / "virtual" / "chaos" / "state.json").read_text())
    return found


def _inject(state: Path, fault: str, seconds: float, patience: float = 5.0) -> tuple[bool, str]:
    """Inject into every handset of the run's lab, again until it lands (a uiautomator server
    that is not up yet) or `patience` runs out; (took effect somewhere, what happened)."""
    end = time.monotonic() + patience
    detail = ""
    while True:
        try:
            injector = FaultInjector(str(lab_state(state)["control"]))
            replies = [injector.inject(serial, fault, seconds) for serial in injector.serials()]
        except (OSError, ValueError, KeyError, DevicelabError) as exc:
            replies, detail = [], f"could not inject: {exc}"
        if replies:
            detail = "; ".join(str(r.get("detail", "")) for r in replies)
            if any(r.get("applied") for r in replies):
                return True, detail
        if time.monotonic() >= end:
            return False, detail
        time.sleep(0.1)


@dataclass
class Row:
    fault: str
    phase: str
    runs: int
    missed: int
    false_passes: int
    recovered: int
    lost: int
    hangs: int
    exits: str
    median_recovery: float | None


def summarise(fault: str, results: list[RunResult]) -> Row:
    """`median recovery`: seconds from the injection to the run's verdict."""
    phase = PLAN[fault].phase
    landed = [r for r in results if r.injected]
    passed = sum(1 for r in landed if r.code == 0)
    recovered = [r.seconds for r in landed if r.code is not None]
    exits = ",".join(sorted({"hang" if r.code is None else str(r.code) for r in landed})) or "-"
    return Row(fault, phase, len(results), len(results) - len(landed), passed if phase == "window" else 0,
               passed if phase == "setup" else 0, sum(r.lost for r in results),
               sum(1 for r in results if r.code is None), exits,
               statistics.median(recovered) if recovered else None)


def table(rows: list[Row]) -> str:
    head = (f"{'fault':<16} {'phase':<6} {'runs':>4} {'missed':>6} {'false passes':>12} {'recovered':>9} "
            f"{'lost flows':>10} {'hangs':>5} {'exits':>7} {'median recovery':>16}")
    lines = [head, "-" * len(head)]
    for r in rows:
        rec = f"{r.median_recovery:.1f} s" if r.median_recovery is not None else "-"
        lines.append(f"{r.fault:<16} {r.phase:<6} {r.runs:>4} {r.missed:>6} {r.false_passes:>12} {r.recovered:>9} "
                     f"{r.lost:>10} {r.hangs:>5} {r.exits:>7} {rec:>16}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devicelab.virtual.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--faults", default=",".join(PLAN))
    parser.add_argument("--window", type=float, default=90.0)
    parser.add_argument("--keep", type=Path, help="keep each run's output under this folder")
    args = parser.parse_args(argv)
    faults = [f for f in args.faults.split(",") if f]
    unknown = [f for f in faults if f not in PLAN]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(PLAN)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="dl-chaos-") as tmp:
        root = args.keep or Path(tmp)
        for fault in faults:
            results = []
            for n in range(args.runs):
                workdir = root / f"{fault}-{n}"
                workdir.mkdir(parents=True, exist_ok=True)
                result = run_once(fault, args.window, workdir)
                print(f"{fault} #{n + 1}: exit {result.code}, injected {result.injected} ({result.detail}), "
                      f"{result.seconds:.1f} s", flush=True)
                results.append(result)
            rows.append(summarise(fault, results))
    print()
    print(table(rows))
    bad = any(r.false_passes or r.hangs or r.lost for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
