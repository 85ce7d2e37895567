"""What a gate run was asked to do, checked before any handset is touched."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from devicelab.builds import FIXTURES, Build, load_build
from devicelab.errors import ConfigError
from devicelab.policy import Policy, load_policy
from devicelab.sims import load_sim

POLICIES_DIR = FIXTURES / "policies"


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
    command: tuple[str, ...] = field(default=())


def policy_for(build: Build, explicit: str | None) -> tuple[Policy, Path]:
    """The policy file given, or the one in fixtures/policies/ whose skus list the build's SKU."""
    if explicit is not None:
        path = Path(explicit)
        if not path.exists() and not path.suffix:
            path = POLICIES_DIR / f"{explicit}.yaml"
        return load_policy(path), path
    for path in sorted(POLICIES_DIR.glob("*.yaml")):
        policy = load_policy(path)
        if build.sku in policy.skus:
            return policy, path
    raise ConfigError(str(POLICIES_DIR), "skus", f"no policy lists SKU {build.sku!r}; pass --policy")


def load_builds(options: GateOptions) -> tuple[Build, Build | None]:
    if options.sim is not None:
        load_sim(options.sim)  # a typo fails here, before a handset is touched
    build = load_build(options.build)
    from_build = load_build(options.from_build) if options.from_build else None
    if from_build is not None and from_build.bootloader.product != build.bootloader.product:
        raise ConfigError(options.from_build or "", "bootloader.product",
                          f"{from_build.name} is for {from_build.bootloader.product}, "
                          f"{build.name} for {build.bootloader.product}: not an update")
    return build, from_build
