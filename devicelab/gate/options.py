"""What a gate run was asked to do, checked before any handset is touched."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from devicelab.errors import ConfigError
from devicelab.model.builds import Build, load_build
from devicelab.model.sims import load_sim


@dataclass(frozen=True)
class GateOptions:
    build: str
    from_build: str | None = None
    lab: str | None = None
    policy: str | None = None
    sim: str | None = None
    out: Path = Path("reports/gate")
    handsets: int = 1
    #: seconds of device time the handset is watched after activation (real handsets: 1x)
    window: float = 900.0
    consent: str = "decline"  # decline | accept
    wifi: bool = False
    baseline: Path | None = None
    sinkhole: tuple[str, ...] = ()
    lease_timeout: float | None = None
    #: check the fingerprint and factory-reset only: for locked handsets already running the build
    no_flash: bool = False
    allure_html: bool = True  # Allure's HTML report (Java, seconds); the Allure results are always written
    command: tuple[str, ...] = field(default=())


def load_builds(options: GateOptions) -> tuple[Build, Build | None]:
    if options.sim is not None:
        load_sim(options.sim)  # a typo fails here, before a handset is touched
    build = load_build(options.build)
    from_build = load_build(options.from_build) if options.from_build else None
    if options.no_flash and from_build is not None:
        raise ConfigError("--from", "", "--no-flash cannot update from another build: it flashes nothing")
    if from_build is not None and from_build.bootloader.product != build.bootloader.product:
        raise ConfigError(options.from_build or "", "bootloader.product",
                          f"{from_build.name} is for {from_build.bootloader.product}, "
                          f"{build.name} for {build.bootloader.product}: not an update")
    return build, from_build
