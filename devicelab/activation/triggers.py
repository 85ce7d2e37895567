"""Activation triggers: what makes activation clients on a handset talk, by the names plans use.

Each trigger is one Handset method (boot, reboot, SIM in or changed, screen on + unlock, update);
this table names them for the gate's timeline and the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devicelab.handset import Handset
    from devicelab.model.builds import Build

#: activation triggers a plan can ask for, and how the timeline names them
TRIGGERS = {
    "boot": "boot (observe only)",
    "unlock": "screen on + unlock",
    "reboot": "reboot",
    "sim_change": "SIM out and in again",
    "update": "update to the candidate build",
}


def pull(handset: Handset, trigger: str, *, sim: str | None, build: Build) -> None:
    """Pull one trigger by name: `sim` is the SIM a change puts back, `build` what an update installs."""
    if trigger == "boot":
        return
    if trigger == "unlock":
        handset.unlock()
    elif trigger == "reboot":
        handset.reboot()
    elif trigger == "sim_change":
        handset.insert_sim(None)
        handset.insert_sim(sim)
    elif trigger == "update":
        handset.update(build)
    else:
        raise ValueError(f"unknown trigger {trigger!r}: one of {', '.join(TRIGGERS)}")
