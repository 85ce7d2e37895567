"""Activation triggers: what makes activation clients on a handset talk, by the names plans use.

Each trigger is one Handset method (boot, reboot, SIM in or changed, screen on + unlock, update);
this table names them for the gate's timeline and the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devicelab.model.sims import available_sims

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


def pull(handset: Handset, trigger: str, *, sim: str | None, build: Build) -> str:
    """Pull one trigger by name: `sim` is the SIM under test, `build` what an update installs.
    Returns a note for the run record ("" when there is nothing to say)."""
    if trigger == "boot":
        return ""
    if trigger == "sim_change":
        # a real change: another SIM first, then the one under test (activation clients key on the ICCID)
        other = next((name for name in available_sims() if name != sim), None)
        handset.insert_sim(None)
        if other is None:
            handset.insert_sim(sim)
            return "SIM change: no second SIM profile, the same SIM went out and in again"
        handset.insert_sim(other)
        handset.insert_sim(sim)
        return f"SIM change: {other}, then {sim or 'none'}"
    if trigger == "unlock":
        handset.unlock()
    elif trigger == "reboot":
        handset.reboot()
    elif trigger == "update":
        handset.update(build)
    else:
        raise ValueError(f"unknown trigger {trigger!r}: one of {', '.join(TRIGGERS)}")
    return ""
