"""Record a first boot on a virtual handset as replayable data (tests/flows/data/NAME.json.gz).

    .venv/bin/python -m tests.flows.record BUILD SIM CONSENT NAME

Each entry is a hierarchy the screen showed and how the flow left it: by a press, or by itself
(a wait screen). ReplayDriver (tests.flows.helpers) plays it back without a device.
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass, field

from devicelab.flows import Choices, Consent, first_boot
from devicelab.handset.hierarchy import Snapshot
from devicelab.handset.ui import HandsetUi
from tests.flows.helpers import DUMPS, private_lab


@dataclass
class Recorder:
    ui: HandsetUi
    entries: list[dict[str, str]] = field(default_factory=list)
    _last: str = ""

    @property
    def serial(self) -> str:
        return "REPLAY0001"

    def snapshot(self, step: str = "") -> Snapshot:
        snap = self.ui.snapshot(step)
        if snap.signature() != self._last:
            if self.entries and self.entries[-1]["left"] == "":
                self.entries[-1]["left"] = "self"
            self.entries.append({"xml": snap.xml, "left": ""})
            self._last = snap.signature()
        return snap

    def click(self, x: int, y: int, step: str) -> None:
        self.entries[-1]["left"] = "press"
        self.ui.click(x, y, step)

    def swipe(self, fx: int, fy: int, tx: int, ty: int, step: str, duration: float = 0.1) -> None:
        self.entries[-1]["left"] = "press"
        self.ui.swipe(fx, fy, tx, ty, step, duration)

    def screenshot_png(self) -> bytes:
        return self.ui.screenshot_png()


def main(build: str, sim: str, consent: str, name: str) -> None:
    with private_lab(build, None if sim == "none" else sim, seed=name) as (_lab, handset):
        recorder = Recorder(handset.ui())
        result = first_boot(handset, Choices(consent=Consent(consent)), ui=recorder)
        print(result.summary())
    with gzip.open(DUMPS / f"{name}.json.gz", "wt", encoding="utf-8") as out:
        json.dump(recorder.entries, out)


if __name__ == "__main__":
    main(*sys.argv[1:5])
