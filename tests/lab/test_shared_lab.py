"""The embedded virtual lab is shared by every process of a run, and by several Labs in one."""

from __future__ import annotations

import json
import os

from devicelab.lab.lab import Lab
from devicelab.virtual.provider import lab_dir


def users() -> list[int]:
    state = json.loads((lab_dir("virtual") / "state.json").read_text())
    return list(state["users"])


def test_a_second_lab_in_this_process_leaving_keeps_the_first_ones_join(lab: Lab) -> None:
    assert os.getpid() in users()  # the session's lab joined it
    other = Lab.from_file()  # a command run in-process, a test's own Lab: the same embedded lab
    other.start()
    other.stop()
    assert os.getpid() in users()  # still joined: the lab must not stop under the session
    with lab.lease({}, timeout=60, holder="shared lab test") as handset:
        handset.check_health()  # booted, answering, the handset the lab says it is
