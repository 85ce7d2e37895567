"""`flow record` on a virtual handset while the wizard is walked at a person's pace (here by the
engine), `flow check` against the dumps it saved, and the recorded flow driving the wizard again
after a factory reset."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import cast

import pytest

from devicelab.flows import Choices, Consent, Driver, first_boot
from devicelab.flows.model import load_flow_file
from devicelab.flows.recording import check, draft, dumps_dir, guess_action, record, save
from devicelab.handset.hierarchy import Node, Window
from devicelab.handset.ui import HandsetUi
from tests.flows.helpers import private_lab

DECLINE = Choices(consent=Consent.DECLINE_ALL, wifi=False)


class Person:
    """The engine's hands at a person's pace: the recorder sees every screen."""

    def __init__(self, ui: HandsetUi) -> None:
        self._ui = ui

    def __getattr__(self, name: str) -> object:
        return getattr(self._ui, name)

    def click(self, x: int, y: int, step: str) -> None:
        time.sleep(0.3)
        self._ui.click(x, y, step)


def is_home(window: Window) -> bool:
    return "launcher" in window.package


def button(text: str, rid: str = "", *, checkable: bool = False, y: int = 1800) -> Node:
    return Node("android.widget.Button", "p", rid, text, "", (0, y, 100, y + 50), checkable=checkable,
                clickable=True)


def test_the_guessed_press_is_the_one_the_next_screen_names() -> None:
    before = Window("p", (button("Next", "p:id/next_button"), button("Skip", "p:id/skip_button", y=1700),
                          button("Off", "p:id/switch", checkable=True)))
    after = Window("p", (Node("android.widget.TextView", "p", "", "Skip account setup?", "", (0, 0, 9, 9)),))
    assert guess_action(before, after) == before.nodes[1]
    assert guess_action(before) == before.nodes[0]  # no echo: the forward button
    assert guess_action(Window("p", (button("Off", "p:id/switch", checkable=True),))) is None  # passes by itself


@pytest.mark.slow
def test_a_recorded_walk_becomes_a_flow_that_check_accepts_and_that_drives_the_wizard(tmp_path: Path) -> None:
    with private_lab(seed="flow-record") as (_lab, handset):
        ui = handset.ui()
        walker = threading.Thread(target=first_boot, args=(handset, DECLINE),
                                  kwargs={"verify": False, "ui": cast(Driver, Person(ui))})
        walker.start()
        walk = record(lambda: (ui.dump("record"), b""), is_home=is_home, fingerprint=handset.fingerprint(),
                      timeout=120, interval=0.05)
        walker.join(120)
        assert walk.home is not None
        out = tmp_path / "flows" / "recorded-b2n.yaml"
        out.parent.mkdir()
        save(walk, out, draft(walk, out.stem, "a virtual handset"))
        flow = load_flow_file(out)
        assert flow.fingerprints == (handset.fingerprint(),)
        results = check(flow, dumps_dir(out))
        assert len(results) == len(walk.screens) + 1  # and home
        assert all(r.ok for r in results), [r for r in results if not r.ok]
        cli = subprocess.run([sys.executable, "-m", "devicelab", "flow", "check", str(out)], capture_output=True,
                             text=True, timeout=60, check=False)
        assert cli.returncode == 0, cli.stdout + cli.stderr

        handset.factory_reset()
        result = first_boot(handset, DECLINE, flow=flow, verify=False)
        assert result.reached_home
