"""SIM profiles (`fixtures/sims/NAME.yaml`): what a SIM card and its network tell a handset."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from devicelab.errors import ConfigError
from devicelab.model.builds import FIXTURES
from devicelab.model.data import Frozen, load
from devicelab.model.secret import RedactedRepr

SIMS_DIR = FIXTURES / "sims"


class Location(Frozen):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class ServingCell(Frozen):
    """The network the SIM camps on in the lab: LTE cell identity and where it is."""

    eci: int = Field(ge=0, lt=2**28, description="LTE E-UTRAN cell identity (eNB id << 8 | cell)")
    tac: int = Field(ge=0, lt=2**16)
    pci: int = Field(default=0, ge=0, lt=504)
    location: Location


class SimProfile(RedactedRepr, Frozen):
    """One SIM card."""

    REDACTED: ClassVar[frozenset[str]] = frozenset({"iccid", "imsi", "msisdn"})

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    operator: str
    country: str = Field(pattern=r"^[a-z]{2}$")
    mcc: str = Field(pattern=r"^\d{3}$")
    mnc: str = Field(pattern=r"^\d{2,3}$")
    iccid: str = Field(pattern=r"^89\d{16,18}F?$")
    imsi: str = Field(pattern=r"^\d{6,15}$")
    msisdn: str = Field(pattern=r"^\+\d{6,15}$")
    cell: ServingCell

    @property
    def mccmnc(self) -> str:
        return self.mcc + self.mnc


def available_sims(sims_dir: Path = SIMS_DIR) -> list[str]:
    return sorted(p.stem for p in sims_dir.glob("*.yaml"))


@cache
def load_sim(name: str, sims_dir: Path = SIMS_DIR) -> SimProfile:
    path = sims_dir / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(available_sims(sims_dir)) or "none"
        raise ConfigError(str(path), "", f"unknown SIM profile {name!r}; known profiles: {known}")
    sim = load(SimProfile, path)
    if sim.name != name:
        raise ConfigError(str(path), "name", f"is {sim.name!r} but the file is named {name!r}")
    if not sim.imsi.startswith(sim.mccmnc):
        raise ConfigError(str(path), "imsi", f"must start with MCC+MNC {sim.mccmnc}")
    return sim
