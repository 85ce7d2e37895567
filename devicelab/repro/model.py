"""A reported leak as data (`fixtures/repro/*.yaml`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from devicelab.errors import ConfigError
from devicelab.model.builds import load_build
from devicelab.model.data import Frozen, load
from devicelab.model.identity import IDENTIFIER_KINDS, LOCATION_KIND
from devicelab.model.sims import load_sim

Trigger = Literal["boot", "unlock", "reboot", "sim_change"]


class Suspect(Frozen):
    """What the reporter suspects: a host, and the identifiers it received (empty: any contact)."""

    host: str = Field(min_length=1)
    identifiers: tuple[str, ...] = ()

    @field_validator("identifiers")
    @classmethod
    def _known_kinds(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [k for k in kinds if k not in (*IDENTIFIER_KINDS, LOCATION_KIND)]
        if unknown:
            raise ValueError(f"unknown identifier kind(s) {', '.join(unknown)}; known: {', '.join(IDENTIFIER_KINDS)}")
        return kinds


class LeakReport(Frozen):
    title: str
    model: str
    builds: tuple[str, ...] = Field(min_length=1)
    region: str = ""
    sims: tuple[str | None, ...] = (None,)
    suspected: Suspect
    observed: str = ""
    triggers: tuple[Trigger, ...] = ("boot", "unlock", "reboot", "sim_change")
    #: device seconds watched after each trigger
    window: float = Field(default=300.0, gt=0, le=7 * 24 * 3600)


def load_report(path: Path) -> LeakReport:
    """Read a report; unknown builds or SIM profiles are named with the field that holds them."""
    report = load(LeakReport, path)
    for index, build in enumerate(report.builds):
        try:
            load_build(build)
        except ConfigError as exc:
            raise ConfigError(str(path), f"builds.{index}", exc.problem) from None
    for index, sim in enumerate(report.sims):
        if sim is not None:
            try:
                load_sim(sim)
            except ConfigError as exc:
                raise ConfigError(str(path), f"sims.{index}", exc.problem) from None
    return report
