"""`make chaos`: run the gate on a build that passes, inject one fault per run at a step of the
run, and count what must never happen: a pass after a fault that took effect, or a hang.

    python -m devicelab.virtual.chaos [--runs 3] [--faults drop_adb,reboot] [--window 90]

Each run has its own virtual lab (its own state folder), so faults never reach another run's
handsets. A fault that could not be injected in time counts as missed, not as survived.

When a pass after a fault is sound (what `false passes` and `recovered` count):
- a fault in the observation window (phase "window"): never. What the window showed is not what
  the handset does undisturbed; every pass is a false pass.
- a fault in a setup step before the window (phase "setup"), that a bounded retry or the UI
  server's restart recovered from: only when (a) the recovery is on the record (a note of the run
  record names the retry or restart) and (b) the observation was not compromised: every handset
  was judged, its capture started before first boot, the whole window was observed, and no
  coverage gap counts. A blind stretch of the socket sampler (adb down while the system ran) is
  such a gap (devicelab.capture.sampler), so adb lost during first boot cannot end in a pass.
  Such a pass is `recovered`; any other pass after a setup fault is a false pass.

`lost flows` holds each run against ground truth: what the lab's internet answered through the
proxy, the run's evidence logs and its verdict (devicelab.virtual.ground_truth).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from devicelab.errors import DevicelabError
from devicelab.virtual.faults import FaultInjector
from devicelab.virtual.ground_truth import lost_flows
from devicelab.virtual.provider import CHECKOUT

__all__ = ["LAB", "PLAN", "RECOVERY_NOTE", "Fault", "Row", "RunResult", "coverage_problem", "inject_all", "lab_state",
           "lost_flows", "main",
           "recovery_note", "run_once", "summarise", "table"]

BUILD = "nokia7plus-00WW_3_22C_SP05"  # leaks nothing; inconclusive since issue 13 (a user build: its TLS is unread)
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
    "boot_loop": Fault("boot_loop", "factory reset", phase="setup"),
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
proxy: {{sample_interval: 0.25, canary_timeout: 5, adb_reverse: true}}
timeouts: {{boot: 15, shell: 10, fastboot: 10, flash: 60, reboot_drop: 10, lease: 30}}
"""


#: how the run record notes a recovery: devicelab.lab.retry's retries, the UI server's restarts
RECOVERY_NOTE = re.compile(r"attempt \d+ of \d+ failed|restarted \d+ time")


@dataclass
class RunResult:
    fault: str
    code: int | None  # None: hung
    injected: bool
    seconds: float  # from injection (or start) to the end of the run
    detail: str = ""
    lost: int = 0  # answered requests the run's evidence or verdict does not show
    recovery: str = ""  # a pass: the run record's note of the recovery ("" none)
    coverage: str = ""  # a pass: why the observation was not complete ("" it was)

    @property
    def sound_pass(self) -> bool:
        """A pass after a setup fault that the policy accepts (see the module's docstring)."""
        return self.code == 0 and bool(self.recovery) and not self.coverage


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
            "--window", f"{window:g}", "--out", str(workdir / "out"), "--no-allure-html"]
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
                applied, detail = inject_all(state, plan.kind, plan.seconds)
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
    out = workdir / "out"
    result = RunResult(fault or "none", code, bool(injected_at), end - since, "; ".join(details),
                       lost_flows(out, lab_dir_in(state) / "received.jsonl"))
    if code == 0:
        verdict = _verdict(out)
        result.recovery = recovery_note(verdict)
        result.coverage = coverage_problem(verdict, window)
    return result


def _verdict(out: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads((out / "verdict.json").read_text())
    except (OSError, ValueError):
        return {}
    return found


def recovery_note(verdict: dict[str, Any]) -> str:
    """The run record's first note of a recovery (a retried step, a restarted UI server), or ""."""
    return next((str(n) for n in verdict.get("notes", []) if RECOVERY_NOTE.search(str(n))), "")


def coverage_problem(verdict: dict[str, Any], window: float) -> str:
    """Why a run's observation was not complete ("" when it was): an unjudged handset, a capture
    that started after first boot, a window not observed in full, a coverage gap that counts."""
    if not verdict.get("handsets"):
        return "no handset in the verdict"
    steps = verdict.get("timeline", [])
    for handset in verdict["handsets"]:
        hid = handset["handset"]["id"]
        if not handset.get("judged"):
            return f"{hid} was not judged"
        counted = [g for g in handset.get("coverage", {}).get("gaps", []) if g.get("counts")]
        if counted:
            return f"{hid}: {counted[0].get('kind')}: {counted[0].get('detail')}"
        capture = _step_time(steps, hid, "start capture", "end")
        boot = _step_time(steps, hid, "first boot", "start")
        if capture is None or boot is None or capture > boot:
            return f"{hid}: the capture did not cover first boot"
    observed = verdict.get("observation_seconds") or 0
    if observed < window:
        return f"observed {observed:g} of {window:g} device seconds"
    return ""


def _step_time(steps: list[dict[str, Any]], handset: str, name: str, edge: str) -> datetime | None:
    for step in steps:
        if step.get("handset") == handset and step.get("name") == name and step.get("status") == "ok":
            return datetime.fromisoformat(str(step[edge]))
    return None


def lab_state(state: Path) -> dict[str, object]:
    """The running virtual lab's state file (pid, adb port, handsets, control socket)."""
    found: dict[str, object] = json.loads((lab_dir_in(state) / "state.json").read_text())
    return found


def inject_all(state: Path, fault: str, seconds: float, patience: float = 5.0) -> tuple[bool, str]:
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
    """`recovered`: passes after a setup fault that the policy accepts (recovery recorded, full
    coverage); every other pass after a fault that landed is a false pass. `median recovery`:
    seconds from the injection to the run's verdict."""
    phase = PLAN[fault].phase
    landed = [r for r in results if r.injected]
    passes = [r for r in landed if r.code == 0]
    recovered = sum(1 for r in passes if r.sound_pass) if phase == "setup" else 0
    ended = [r.seconds for r in landed if r.code is not None]
    exits = ",".join(sorted({"hang" if r.code is None else str(r.code) for r in landed})) or "-"
    return Row(fault, phase, len(results), len(results) - len(landed), len(passes) - recovered, recovered,
               sum(r.lost for r in results), sum(1 for r in results if r.code is None), exits,
               statistics.median(ended) if ended else None)


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
                verdict = "" if result.code != 0 else (
                    f"; pass {'accepted' if result.sound_pass else 'NOT accepted'}: "
                    f"recovery {result.recovery or 'not recorded'}, coverage {result.coverage or 'full'}")
                print(f"{fault} #{n + 1}: exit {result.code}, injected {result.injected} ({result.detail}), "
                      f"{result.seconds:.1f} s, lost {result.lost}{verdict}", flush=True)
                results.append(result)
            rows.append(summarise(fault, results))
    print()
    print(table(rows))
    bad = any(r.false_passes or r.hangs or r.lost for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())


def lab_dir_in(state: Path) -> Path:
    """The chaos lab's state folder under DEVICELAB_STATE_DIR=`state` (the provider's layout)."""
    return state / "virtual" / f"chaos-{CHECKOUT}"
