"""What a gate run was asked to do, checked before any handset is touched."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from devicelab.errors import ConfigError
from devicelab.model.builds import Build, load_build
from devicelab.model.inventory import Mode
from devicelab.model.sims import load_sim


@dataclass(frozen=True)
class GateOptions:
    build: str
    from_build: str | None = None
    lab: str | None = None
    policy: str | None = None
    sim: str | None = None
    #: the run folder; None: a new folder per run, reports/gate-BUILD/RUN_ID, and reports/gate-BUILD/latest
    out: Path | None = None
    force: bool = False  # replace a run folder given as `out` (never done silently: it may be a baseline)
    handsets: int = 1
    #: seconds of device time the handset is watched after activation (real handsets: 1x)
    window: float = 900.0
    consent: str = "decline"  # decline | accept
    wifi: bool = False
    baseline: Path | None = None
    sinkhole: tuple[str, ...] = ()
    lease_timeout: float | None = None
    #: full: the raw evidence (captures, logcat, screenshots); redacted: what a CI system may store
    evidence: str = "full"
    #: how the handset reaches the capture; None: the lab inventory's `proxy.mode`
    capture: Mode | None = None
    #: check the fingerprint and factory-reset only: for locked handsets already running the build
    no_flash: bool = False
    allure_html: bool = True  # Allure's HTML report (Java, seconds); the Allure results are always written
    command: tuple[str, ...] = field(default=())
    #: differential identity run: two handsets (or more), each repeating its window after a reboot
    differential: bool = False
    #: who walks the setup wizard: devicelab over adb (`auto`), or a person (`operator`: a retail
    #: phone, adb off; needs the gateway capture, which needs no adb)
    wizard: str = "auto"
    #: `--wizard operator` without a terminal: DIR/<handset>.done says the walk is done
    operator_done: Path | None = None
    operator_timeout: float = 1800.0


def load_builds(options: GateOptions) -> tuple[Build, Build | None]:
    if options.sim is not None:
        load_sim(options.sim)  # a typo fails here, before a handset is touched
    if options.differential and options.handsets < 2:
        raise ConfigError("--differential", "--handsets", "a differential run compares two handsets or more")
    if options.differential and options.from_build:
        raise ConfigError("--differential", "--from", "a differential run gates one build, not an update")
    if options.wizard == "operator":
        if options.capture not in (None, "gateway"):
            raise ConfigError("--wizard", "--capture", "a person walks the wizard of a phone whose adb is off: only "
                              "the gateway capture sees it without adb (--capture gateway)")
        for flag, given in (("--from", options.from_build), ("--differential", options.differential)):
            if given:
                raise ConfigError("--wizard", flag, f"{flag} drives the handset over adb; --wizard operator cannot")
    build = load_build(options.build)
    from_build = load_build(options.from_build) if options.from_build else None
    if options.no_flash and from_build is not None:
        raise ConfigError("--from", "", "--no-flash cannot update from another build: it flashes nothing")
    if from_build is not None and from_build.bootloader.product != build.bootloader.product:
        raise ConfigError(options.from_build or "", "bootloader.product",
                          f"{from_build.name} is for {from_build.bootloader.product}, "
                          f"{build.name} for {build.bootloader.product}: not an update")
    return build, from_build


RUN_MARKER = "verdict.json"  # a folder holding one is a run's


def run_folder(options: GateOptions, build: Build, run_id: str) -> Path:
    """Where this run's reports go. A run folder given as --out is only replaced with --force
    (it may be the baseline another run compares with); by default each run gets its own."""
    if options.out is None:
        return Path("reports") / f"gate-{build.name}" / run_id
    out = options.out
    if out.exists() and not out.is_dir():
        raise ConfigError(str(out), "--out", "exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / RUN_MARKER).is_file():
            raise ConfigError(str(out), "--out", "is a folder with other files in it: give an empty or new folder")
        if not options.force:
            raise ConfigError(str(out), "--out", "holds a previous run: pass --force to replace it, or another folder")
    return out


def clear_run_folder(out: Path) -> None:
    """Empty a previous run's folder before the new run writes there: no stale evidence beside new files."""
    if (out / RUN_MARKER).is_file():
        shutil.rmtree(out)


def link_latest(out: Path) -> None:
    """reports/gate-BUILD/latest -> this run (default run folders only)."""
    latest = out.parent / "latest"
    tmp = out.parent / f".latest-{out.name}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(out.name, target_is_directory=True)
    tmp.replace(latest)
