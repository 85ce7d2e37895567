"""The handset's SIM slot: a `SimSwitcher` puts a SIM profile in it, then the handset must see it.

Labs whose provider can switch SIMs hand one to each handset (`Handset.sim_switcher`: the virtual
lab's control channel, a hardware SIM bank); otherwise `OperatorSimSwitcher` asks a person at the
rack and waits, bounded, for them to confirm.
"""

from __future__ import annotations

import select
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from devicelab.errors import HandsetError
from devicelab.model.sims import SimProfile, load_sim

if TYPE_CHECKING:
    from devicelab.handset.handset import Handset


class SimSwitchError(HandsetError):
    """The SIM could not be put in, or the handset does not see it."""


class SimSwitcher(Protocol):
    """Puts a SIM profile in a handset's slot (None: takes the SIM out); returns once it is in."""

    def insert(self, handset: Handset, sim: SimProfile | None, *, timeout: float) -> None: ...


def _stdin_confirm(prompt: str, timeout: float) -> bool:
    """Print `prompt` and wait for Enter on a terminal; False when nobody answers in time."""
    stream = sys.stdin
    try:
        interactive = stream is not None and stream.isatty()
    except (OSError, ValueError):
        interactive = False
    if not interactive:
        raise SimSwitchError("no operator to ask: stdin is not a terminal (run pytest with -s, or give the "
                             "handset a SIM switcher)")
    print(prompt, file=sys.stderr, flush=True)
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        return False
    stream.readline()
    return True


class OperatorSimSwitcher:
    """Asks a person at the rack to move the SIM, and waits (bounded) for them to confirm."""

    def __init__(self, confirm: Callable[[str, float], bool] = _stdin_confirm) -> None:
        self.confirm = confirm

    def insert(self, handset: Handset, sim: SimProfile | None, *, timeout: float) -> None:
        if sim is None:
            what = "take the SIM out of"
        else:
            what = f"insert SIM {sim.name} ({sim.operator}, ICCID {sim.iccid}) into slot 1 of"
        prompt = f"\n>>> Please {what} handset {handset.serial} ({handset.entry.id}), then press Enter."
        if not self.confirm(prompt, timeout):
            raise SimSwitchError(f"nobody confirmed the SIM change within {timeout:.0f} s", serial=handset.serial,
                                 step="insert SIM")


def switcher_for(handset: Handset) -> SimSwitcher:
    return handset.sim_switcher or OperatorSimSwitcher()


def sim_state(handset: Handset) -> tuple[str, str]:
    """(state, MCC+MNC) of slot 1 as the handset reports them (`gsm.sim.state`, `gsm.sim.operator.numeric`)."""
    state = handset.getprop("gsm.sim.state").split(",")[0]
    numeric = handset.getprop("gsm.sim.operator.numeric").split(",")[0]
    return state, numeric


def insert_sim(handset: Handset, sim: str | SimProfile | None, *, timeout: float = 60.0,
               switcher: SimSwitcher | None = None) -> None:
    """Put a SIM in (None: take it out), wait until the handset sees it, then turn mobile data on."""
    profile = load_sim(sim) if isinstance(sim, str) else sim
    step = f"insert SIM {profile.name if profile else '(none)'}"
    (switcher or switcher_for(handset)).insert(handset, profile, timeout=timeout)
    wanted = ("READY", profile.mccmnc) if profile else ("ABSENT", "")
    end = time.monotonic() + timeout
    seen = sim_state(handset)
    while seen != wanted and not (profile is None and seen[0] in ("ABSENT", "NOT_READY", "UNKNOWN")):
        if time.monotonic() >= end:
            raise SimSwitchError(f"the handset reports SIM {seen[0]} {seen[1] or '-'}, not {wanted[0]} "
                                 f"{wanted[1] or '-'} after {timeout:.0f} s", serial=handset.serial, step=step)
        time.sleep(0.1)
        seen = sim_state(handset)
    if profile is not None:
        handset.shell("svc data enable", check=True)
