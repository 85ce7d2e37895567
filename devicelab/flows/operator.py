"""A person walks the setup wizard (`devicelab gate --wizard operator`): devicelab says what to do
and waits, bounded, until they say it is done.

A retail phone has adb off after a wipe, so nothing can drive or even watch its wizard but a
finger; the lab gateway still records every packet. The person says "done" in one of two ways:

- at the terminal: Enter (stdin is a terminal and no folder was given);
- in a folder (`--operator-done DIR`, for CI and tests): devicelab writes `<handset>.waiting` (the
  instructions, JSON) when it starts waiting, and goes on when `<handset>.done` appears. Whatever
  stands in for the person (a CI step, the virtual lab's control channel) watches for the first
  and creates the second.

Waiting ends with OperatorTimeoutError after `timeout` seconds, or RunInterruptedError when the
run is stopped: never an endless wait.
"""

from __future__ import annotations

import json
import select
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devicelab.errors import ConfigError, HandsetError, RunInterruptedError

POLL = 0.2
DEFAULT_TIMEOUT = 1800.0  # a person walking a wizard with a SIM and Wi-Fi: minutes, not hours


class OperatorTimeoutError(HandsetError):
    """The person did not say the step was done in time."""


@dataclass(frozen=True)
class Operator:
    """How the person at the handsets says a step is done."""

    done_dir: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    #: the terminal the person answers at (None: no terminal, `done_dir` is the only way)
    terminal: TextIO | None = None

    @classmethod
    def for_run(cls, done_dir: Path | None, timeout: float, stdin: TextIO = sys.stdin) -> Operator:
        """A terminal when there is one; else the folder, which must then be given."""
        terminal = stdin if done_dir is None and stdin.isatty() else None
        if done_dir is None and terminal is None:
            raise ConfigError("--wizard", "--operator-done", "--wizard operator waits for a person: run it at a "
                              "terminal, or give --operator-done DIR (a file DIR/<handset>.done says a walk is done)")
        if timeout <= 0:
            raise ConfigError("--wizard", "--operator-timeout", f"{timeout:g}: must be more than 0 seconds")
        return cls(done_dir, timeout, terminal)

    def wait(self, handset: str, serial: str, instructions: str, *, cancel: threading.Event,
             say: Callable[[str], None], step: str = "operator walks the wizard") -> float:
        """Tell the person, then wait until they are done; returns the seconds it took."""
        start = time.monotonic()
        waiting = done = None
        if self.done_dir is not None:
            self.done_dir.mkdir(parents=True, exist_ok=True)
            waiting, done = self.done_dir / f"{handset}.waiting", self.done_dir / f"{handset}.done"
            done.unlink(missing_ok=True)  # an earlier run's answer is not this one's
            tmp = waiting.with_suffix(".tmp")
            tmp.write_text(json.dumps({"handset": handset, "serial": serial, "instructions": instructions,
                                       "done": str(done), "timeout": self.timeout}))
            tmp.replace(waiting)
        how = f"create {done}" if done is not None else "press Enter here"
        say(f"{handset}: {instructions}\n  When that is done, {how} (waiting up to {self.timeout:.0f} s).")
        try:
            while True:
                if cancel.is_set():
                    raise RunInterruptedError("stopped while waiting for the operator", serial=serial, step=step)
                if done is not None and done.exists():
                    return time.monotonic() - start
                if self.terminal is not None and _line_ready(self.terminal):
                    self.terminal.readline()
                    return time.monotonic() - start
                left = self.timeout - (time.monotonic() - start)
                if left <= 0:
                    raise OperatorTimeoutError(f"the operator did not finish within {self.timeout:.0f} s ({how})",
                                               serial=serial, step=step)
                time.sleep(min(POLL, left))
        finally:
            if waiting is not None:
                waiting.unlink(missing_ok=True)


def _line_ready(stream: TextIO) -> bool:
    try:
        ready, _, _ = select.select([stream], [], [], 0)
    except (OSError, ValueError):  # closed, or not a file: never an answer
        return False
    return bool(ready)


def wizard_instructions(handset: str, build: str, choices: str, sim: str | None, network: str,
                        reset: str = "") -> str:
    """What the person does: one paragraph, on the terminal and in the `.waiting` file. `reset`:
    what to do first when devicelab could not wipe the handset itself."""
    sim_text = f"SIM {sim} in the slot" if sim else "the SIM the lab put in"
    where = (f"{handset} runs {build} (adb is off): {reset}" if reset else
             f"{handset} was wiped and is booting {build} into the setup wizard (adb is off). ")
    return (f"{where}With {sim_text}, walk the wizard to the home screen by hand ({choices}); {network}. Leave USB "
            "debugging off; unlock the screen once at the home screen.")


__all__ = ["DEFAULT_TIMEOUT", "Operator", "OperatorTimeoutError", "wizard_instructions"]
