"""The operator's walk (`--wizard operator`): devicelab says what to do and waits, bounded, for a
person to say it is done: a file in CI and tests, Enter at a terminal."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import pytest

from devicelab.errors import ConfigError, RunInterruptedError
from devicelab.flows.operator import Operator, OperatorTimeoutError, wizard_instructions


def _answer_when_asked(folder: Path, seen: list[dict[str, object]]) -> threading.Thread:
    def person() -> None:
        end = time.monotonic() + 5
        while time.monotonic() < end:
            waiting = folder / "hs-1.waiting"
            if waiting.exists():
                asked = json.loads(waiting.read_text())
                seen.append(asked)
                Path(str(asked["done"])).touch()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=person, daemon=True)
    thread.start()
    return thread


def test_a_done_file_ends_the_wait_and_the_instructions_are_in_the_waiting_file(tmp_path: Path) -> None:
    seen: list[dict[str, object]] = []
    said: list[str] = []
    (tmp_path / "hs-1.done").touch()  # an earlier run's answer: not this one's
    person = _answer_when_asked(tmp_path, seen)
    took = Operator(tmp_path, timeout=5).wait("hs-1", "B2N1", "walk the wizard", cancel=threading.Event(),
                                              say=said.append)
    person.join(5)
    assert took < 5
    assert seen[0]["instructions"] == "walk the wizard"
    assert seen[0]["serial"] == "B2N1"
    assert "hs-1.done" in said[0]
    assert not (tmp_path / "hs-1.waiting").exists()  # nobody is asked any more


def test_an_earlier_runs_done_file_does_not_count_and_the_wait_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "hs-1.done").touch()
    started = time.monotonic()
    with pytest.raises(OperatorTimeoutError, match=r"did not finish within 0 s") as raised:
        Operator(tmp_path, timeout=0.3).wait("hs-1", "B2N1", "walk", cancel=threading.Event(), say=lambda _: None)
    assert 0.3 <= time.monotonic() - started < 2
    assert (raised.value.serial, raised.value.step) == ("B2N1", "operator walks the wizard")
    assert not (tmp_path / "hs-1.waiting").exists()


def test_a_stopped_run_stops_waiting_at_once(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(RunInterruptedError):
        Operator(tmp_path, timeout=60).wait("hs-1", "B2N1", "walk", cancel=cancel, say=lambda _: None)
    assert time.monotonic() - started < 2


def test_enter_at_the_terminal_ends_the_wait() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd) as terminal, os.fdopen(write_fd, "w") as keyboard:
        threading.Timer(0.1, lambda: (keyboard.write("\n"), keyboard.flush())).start()
        took = Operator(None, timeout=5, terminal=terminal).wait("hs-1", "B2N1", "walk", cancel=threading.Event(),
                                                                 say=lambda _: None)
    assert 0.05 < took < 5


def test_without_a_terminal_the_folder_is_required() -> None:
    with pytest.raises(ConfigError, match="--operator-done"):
        Operator.for_run(None, 60, stdin=io.StringIO())


def test_the_instructions_say_what_to_do_first_when_devicelab_could_not_wipe() -> None:
    text = wizard_instructions("hs-1", "retail", "decline all", "telenor-no", "join the lab's Wi-Fi",
                               reset="factory-reset it first, then ")
    assert "factory-reset it first" in text
    assert "SIM telenor-no" in text
    assert "wiped" not in text
