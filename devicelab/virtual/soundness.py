"""`make soundness`: the proof that devicelab never passes blind, as a table.

Every blind spot the gate knows is forced on the leaky build (nokia7plus-00WW_3_22C) and on the
fixed one (..._SP05), and every hostile build in fixtures/builds/hostile/ (the leaky build with one
client changed) is gated. Each row counts outcomes; the `passes` column must be 0, except on the one
row that shows a blind spot the policy accepts by name (`accept_blind`) is accepted.

How each blind spot is forced, at the boundary the gate sees it (never inside the judge):
- a build variant (a copy of the build file with one property changed: the API level);
- a lab variant (an inventory that knows no identifiers; a proxy that keeps 64 body bytes);
- a policy variant (the global policy without the pinned push's accept_blind);
- a fault of the virtual lab (devicelab.virtual.faults, injected as chaos.py does);
- what the handset answers, patched in this process (an implausible or disagreeing IMEI; a bug
  in one handset's run of a two-handset gate): the gate then runs in this process;
- the evidence log, truncated or corrupted after the run, then judged again by `devicelab scan`.

    python -m devicelab.virtual.soundness [--runs N] [--rows NAME,...] [--window S]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from unittest import mock

from devicelab.model.builds import BUILDS_DIR
from devicelab.model.outcome import EXIT_CODES
from devicelab.model.policy import POLICIES_DIR
from devicelab.virtual.chaos import inject_all

LEAKY = "nokia7plus-00WW_3_22C"
FIXED = "nokia7plus-00WW_3_22C_SP05"
HOSTILE_DIR = BUILDS_DIR / "hostile"
IDENTITY = BUILDS_DIR.parent / "identities" / "nokia7plus-telenor.yaml"
HARD_TIMEOUT = 300.0
OUTCOME_OF_EXIT = {code: outcome for outcome, code in EXIT_CODES.items()}

#: named "chaos": the fault injector finds the lab where chaos.py's runs keep theirs
LAB = """name: chaos
provider:
  kind: virtual
  options: {{count: {count}, build: {build}, sim: telenor-no, boot_seconds: 0.5, clock_scale: 60,
             known_identity: {known}}}
proxy: {{sample_interval: 0.25, canary_timeout: 5, adb_reverse: true{proxy}}}
timeouts: {{boot: 15, shell: 10, fastboot: 10, flash: 60, reboot_drop: 10, lease: 30}}
"""


@dataclass(frozen=True)
class Case:
    """One row: a blind spot forced on one build."""

    blind_spot: str
    build: str  # a build name, or a path to a build file
    #: (build property, value) the build variant changes
    prop: tuple[str, str] | None = None
    known_identity: bool = True
    proxy: str = ""  # extra proxy settings of the lab, e.g. ", max_body_bytes: 64"
    policy: str | None = None  # a policy file; None: the build's own (fixtures/policies)
    fault: tuple[str, str, float] | None = None  # (progress line that triggers it, fault kind, seconds)
    patch: str = ""  # an in-process forcing (PATCHES)
    tamper: str = ""  # "truncate" | "corrupt": the evidence log is damaged, then scanned again
    handsets: int = 1
    expect: str = "fail or inconclusive"
    may_pass: bool = False  # the accept_blind row
    #: what the run record says when the gate saw the forced blind spot ("" not checked): proves
    #: that the row is inconclusive or failed *because of* it, not for another reason
    sign: str = ""

    @property
    def build_label(self) -> str:
        return Path(self.build).stem if self.build.endswith(".yaml") else self.build


@dataclass
class Result:
    outcome: str  # pass | fail | inconclusive | error | hang
    detail: str = ""
    seen: bool | None = None  # the record names the forced blind spot (None: not checked)


@dataclass
class Row:
    case: Case
    results: list[Result] = field(default_factory=list)

    @property
    def seen(self) -> str:
        checked = [r.seen for r in self.results if r.seen is not None]
        return f"{sum(checked)}/{len(checked)}" if checked else "-"

    @property
    def passes(self) -> int:
        return sum(r.outcome == "pass" for r in self.results)

    @property
    def unexplained_passes(self) -> int:
        return 0 if self.case.may_pass else self.passes


# -- the forcings ------------------------------------------------------------------------------------
def _policy_without_push_acceptance(folder: Path) -> str:
    text = (POLICIES_DIR / "global.yaml").read_text()
    start = text.index("    accept_blind: >-")
    end = text.index("\n  - host:", start)
    path = folder / "global-no-accept-blind.yaml"
    path.write_text(text[:start] + "    # (soundness: no accept_blind: the pinned push is a gap)" + text[end:])
    return str(path)


def _policy_accepting_every_blind_spot(folder: Path) -> str:
    """The global policy where every approved host accepts its unread traffic (the one row that may pass)."""
    lines: list[str] = []
    section = ""
    for line in (POLICIES_DIR / "global.yaml").read_text().splitlines():
        section = line[:-1] if line.endswith(":") and not line.startswith(" ") else section
        lines.append(line)
        if section == "approved" and line.startswith("  - host:") and "push.hmdglobal.com" not in line:
            lines.append('    accept_blind: "soundness: the row that shows accept_blind is honoured"')
    path = folder / "global-accept-all-blind.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@contextlib.contextmanager
def _answer_imei(value: str) -> Iterator[None]:
    """The handset answers `value` to every IMEI read (the service call's reply, as parsed)."""
    from devicelab.android import iphonesubinfo

    real = iphonesubinfo.parse_parcel_string
    calls = {"n": 0}

    def forced(text: str) -> str:
        calls["n"] += 1
        return value if calls["n"] <= 2 else real(text)  # the two IMEI slots are read first

    with mock.patch.object(iphonesubinfo, "parse_parcel_string", forced):
        yield


@contextlib.contextmanager
def _crash_one_handset() -> Iterator[None]:
    """The first handset to start its first boot raises an error no one planned for."""
    import devicelab.gate.handset_run as handset_run

    real = handset_run.first_boot  # type: ignore[attr-defined]
    lock, seen = threading.Lock(), list[Any]()

    def crashing(handset: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            first = not seen
            seen.append(handset)
        if first:
            raise KeyError("soundness: an unexpected bug in one handset's run")
        return real(handset, *args, **kwargs)

    with mock.patch.object(handset_run, "first_boot", crashing):
        yield


PATCHES: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "imei_implausible": lambda: _answer_imei("490154203237519"),  # bad Luhn digit
    "imei_disagrees": lambda: _answer_imei("353918051234561"),  # plausible, not the inventory's
    "crash_one_handset": _crash_one_handset,
}


def cases() -> list[Case]:
    """Every row: each blind spot on the leaky and the fixed build, then each hostile build."""
    rows: list[Case] = []
    for build in (LEAKY, FIXED):
        rows += [
            Case("identity unread (API 30, a lab that knows no IMEI)", build, prop=("ro.build.version.sdk", "30"),
                 known_identity=False, sign="identity_unread"),
            Case("identity implausible (IMEI with a bad Luhn digit)", build, patch="imei_implausible",
                 known_identity=False, sign="identity_implausible"),
            Case("inventory and handset disagree (IMEI)", build, patch="imei_disagrees", sign="the lab lists"),
            Case("unknown SDK (API 99)", build, prop=("ro.build.version.sdk", "99"), known_identity=False,
                 sign="API level 99"),
            Case("a handset crashes mid-run (2-handset gate)", build, patch="crash_one_handset", handsets=2,
                 expect="error", sign="KeyError"),
            Case("TLS unopened, approved host without accept_blind", build, policy="no-accept-blind",
                 sign="counted:push.hmdglobal.com"),
            Case("canary failure (Wi-Fi lost in the window)", build, fault=("observing", "wifi_loss", 0.0),
                 sign="canary"),
            Case("body over the size limit (64 bytes kept)", build, proxy=", max_body_bytes: 64",
                 sign="body_truncated"),
            Case("window cut short by a reboot", build, fault=("observing", "reboot", 0.0)),
            Case("clock jump in the window", build, fault=("observing", "clock_jump", 3600.0)),
            Case("capture killed (log without its stop record)", build, tamper="truncate"),
            Case("corrupt evidence log", build, tamper="corrupt"),
        ]
    rows.append(Case("accept_blind honoured (every unread host accepted by name)", FIXED, policy="accept-all-blind",
                     expect="pass allowed", may_pass=True))
    for path in sorted(HOSTILE_DIR.glob("*.yaml")):  # every file in the folder, whoever added it
        rows.append(Case(f"hostile build: {path.stem.split('-hostile-')[-1]}", str(path)))
    return rows


# -- running -----------------------------------------------------------------------------------------
def _build_variant(case: Case, folder: Path) -> str:
    if case.prop is None:
        return case.build
    from devicelab.model.builds import build_path

    source = Path(case.build) if case.build.endswith(".yaml") else build_path(case.build)
    key, value = case.prop
    name = f"{case.build_label}-sdk{value}"
    lines = []
    for line in source.read_text().splitlines():
        if line.startswith("name: "):
            line = f"name: {name}"
        elif line.strip().startswith(f"{key}:"):
            line = f'  {key}: "{value}"'
        lines.append(line)
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _policy(case: Case, folder: Path) -> str | None:
    if case.policy == "no-accept-blind":
        return _policy_without_push_acceptance(folder)
    if case.policy == "accept-all-blind":
        return _policy_accepting_every_blind_spot(folder)
    return case.policy


def run_case(case: Case, workdir: Path, window: float, timeout: float = HARD_TIMEOUT) -> Result:
    """One gate run of `case` on its own virtual lab; its outcome."""
    workdir.mkdir(parents=True, exist_ok=True)
    build = _build_variant(case, workdir)
    lab = workdir / "lab.yaml"
    lab.write_text(LAB.format(count=case.handsets, build=LEAKY, known=str(case.known_identity).lower(),
                              proxy=case.proxy))
    argv = ["gate", "--build", build, "--sim", "telenor-no", "--lab", str(lab), "--window", f"{window:g}",
            "--out", str(workdir / "out"), "--no-allure-html", "--handsets", str(case.handsets)]
    policy = _policy(case, workdir)
    if policy is not None:
        argv += ["--policy", policy]
    state = workdir / "state"
    if case.patch:
        from devicelab.gate import GateOptions

        options = GateOptions(build=build, sim="telenor-no", lab=str(lab), window=window, out=workdir / "out",
                              allure_html=False, handsets=case.handsets, policy=policy)
        result = _in_process(options, state, PATCHES[case.patch])
    else:
        result = _subprocess(argv, state, case.fault, timeout, workdir / "gate.log")
    if case.tamper and result.outcome != "hang":
        return _rescan(workdir / "out", case.tamper, workdir)
    if case.sign:
        result.seen = _seen(case.sign, workdir / "out" / "verdict.json")
    return result


def _seen(sign: str, record: Path) -> bool:
    """The run record names the forced blind spot: a text it holds, or ("counted:HOST") a gap to
    HOST that counts."""
    if not record.exists():
        return False
    text = record.read_text(errors="replace")
    if not sign.startswith("counted:"):
        return sign in text
    host = sign.partition(":")[2]
    return any(gap.get("host") == host and gap.get("counts")
               for handset in json.loads(text).get("handsets", [])
               for gap in handset.get("coverage", {}).get("gaps", []))


def _outcome(code: int | None) -> str:
    return "hang" if code is None else OUTCOME_OF_EXIT.get(code, f"exit {code}")


def _subprocess(argv: list[str], state: Path, fault: tuple[str, str, float] | None, timeout: float,
                log: Path) -> Result:
    env = {**os.environ, "DEVICELAB_STATE_DIR": str(state)}
    proc = subprocess.Popen([sys.executable, "-m", "devicelab", *argv], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    details: list[str] = []
    output: list[str] = []

    def watch(stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                line = raw.decode(errors="replace")
                output.append(line)
                if fault is not None and not details and fault[0] in line and "✓" not in line:
                    applied, detail = inject_all(state, fault[1], fault[2])
                    details.append(f"{fault[1]}: {'applied' if applied else 'NOT applied'}: {detail}")

    assert proc.stdout is not None
    reader = threading.Thread(target=watch, args=(proc.stdout,), daemon=True)
    reader.start()
    try:
        code: int | None = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    reader.join(10)
    log.write_text("".join(output))
    if fault is not None and not details:
        details.append(f"{fault[1]}: never injected (no '{fault[0]}' line)")
    return Result(_outcome(code), "; ".join(details))


def _in_process(options: Any, state: Path, forcing: Callable[[], contextlib.AbstractContextManager[None]]
                ) -> Result:
    """The gate in this process (the forcing patches what the handset answers), as the CLI runs it."""
    from rich.console import Console

    from devicelab.errors import ConfigError
    from devicelab.gate import run_gate
    from devicelab.progress import Reporter

    with mock.patch.dict(os.environ, {"DEVICELAB_STATE_DIR": str(state)}), forcing():
        try:
            written = run_gate(options, Reporter(Console(file=io.StringIO()), interactive=False))
        except ConfigError as exc:
            return Result("error", f"bad input: {exc}")
    return Result(written.run.outcome)


def _rescan(out: Path, how: str, workdir: Path) -> Result:
    """Damage the run's evidence log, then judge it offline as a user would."""
    logs = sorted(out.glob("evidence/*/evidence.jsonl"))
    if not logs:
        return Result("error", "the run left no evidence log")
    damaged = workdir / "damaged.jsonl"
    data = logs[0].read_bytes()
    lines = data.splitlines(keepends=True)
    if how == "truncate":  # the capture died: no stop record, the last record torn
        kept = [line for line in lines if b'"kind": "stop"' not in line and b'"kind":"stop"' not in line]
        damaged.write_bytes(b"".join(kept)[:-7])
    else:  # garbage in the middle of the log
        middle = len(lines) // 2
        damaged.write_bytes(b"".join([*lines[:middle], b"\x00\xffnot json{{{\n", *lines[middle + 1:]]))
    proc = subprocess.run([sys.executable, "-m", "devicelab", "scan", str(damaged), "--identity", str(IDENTITY),
                           "--policy", str(POLICIES_DIR / "global.yaml")], capture_output=True, text=True,
                          timeout=120)
    return Result(_outcome(proc.returncode), proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else "")


# -- the table ---------------------------------------------------------------------------------------
def table(rows: Sequence[Row]) -> str:
    head = f"{'blind spot':<58} {'build':<44} {'runs':>4}  {'outcomes':<36} {'seen':>5} {'passes':>6}"
    lines = [head, "-" * len(head)]
    for row in rows:
        counts = Counter(r.outcome for r in row.results)
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        mark = " (accepted by name)" if row.case.may_pass and row.passes else ""
        lines.append(f"{row.case.blind_spot[:58]:<58} {row.case.build_label[:44]:<44} {len(row.results):>4}  "
                     f"{outcomes:<36} {row.seen:>5} {row.passes:>6}{mark}")
    unexplained = sum(r.unexplained_passes for r in rows)
    lines.append(f"unexplained passes: {unexplained}")
    return "\n".join(lines)


def run_rows(selected: Sequence[Case], runs: int, window: float, root: Path,
             progress: Callable[[str], None] = print) -> list[Row]:
    rows = []
    for index, case in enumerate(selected):
        row = Row(case)
        for attempt in range(runs):
            started = time.monotonic()
            result = run_case(case, root / f"{index:02d}-{attempt}", window)
            row.results.append(result)
            progress(f"[{index + 1}/{len(selected)}] {case.blind_spot} on {case.build_label}: {result.outcome} "
                     f"({time.monotonic() - started:.0f} s){' ' + result.detail if result.detail else ''}")
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devicelab.virtual.soundness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="gate runs per row (default 1)")
    parser.add_argument("--window", type=float, default=180.0, help="device seconds observed per run")
    parser.add_argument("--rows", default="", help="only rows whose blind spot contains one of these (comma list)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    selected = cases()
    if args.rows:
        wanted = [w.strip().lower() for w in args.rows.split(",") if w.strip()]
        selected = [c for c in selected if any(w in c.blind_spot.lower() for w in wanted)]
    with tempfile.TemporaryDirectory(prefix="devicelab-soundness-") as tmp:
        rows = run_rows(selected, args.runs, args.window, Path(tmp))
    print(table(rows))
    print("seen: runs whose record names the forced blind spot (the verdict came from it, not from another gap)")
    if args.json is not None:
        args.json.write_text(json.dumps([{"blind_spot": r.case.blind_spot, "build": r.case.build_label,
                                          "outcomes": [x.outcome for x in r.results], "passes": r.passes,
                                          "may_pass": r.case.may_pass} for r in rows], indent=2))
    bad = sum(r.unexplained_passes for r in rows) + sum(x.outcome == "hang" for r in rows for x in r.results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Case", "Result", "Row", "cases", "main", "run_case", "run_rows", "table"]
