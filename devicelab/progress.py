"""Progress for long steps (flash, boot, observation window) on a terminal; quiet in CI logs.

On a terminal: a spinner per step and a bar for the observation window (rich). Elsewhere (CI,
a pipe): one plain line per step, so logs stay short.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

#: columns when the output is not a terminal: a log file keeps whole names and paths, never cut
PIPE_WIDTH = 400


def make_console(*, stderr: bool = False) -> Console:
    """A rich console that wraps to the terminal, and cuts nothing when writing to a file or pipe."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else PIPE_WIDTH)


class Reporter:
    def __init__(self, console: Console | None = None, *, interactive: bool | None = None) -> None:
        self.console = console or make_console(stderr=True)
        if interactive is None:
            interactive = self.console.is_terminal and not os.environ.get("CI")
        self.interactive = interactive

    def line(self, text: str) -> None:
        self.console.print(text, highlight=False)

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        start = time.monotonic()
        if self.interactive:
            with self.console.status(text):
                yield
        else:
            print(f"  {text} ...", file=sys.stderr, flush=True)
            yield
        self.line(f"  [green]✓[/] {text} [dim]({time.monotonic() - start:.1f} s)[/]")

    @contextlib.contextmanager
    def window(self, text: str, total: float) -> Iterator[WindowBar]:
        """A bar over `total` device seconds; the caller advances it."""
        if not self.interactive:
            print(f"  {text}: {total:.0f} device seconds ...", file=sys.stderr, flush=True)
            yield WindowBar(None, 0)
            return
        with Progress(TextColumn("  {task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/"
                      "{task.total:.0f} device s"), TimeRemainingColumn(), console=self.console,
                      transient=True) as bar:
            task = bar.add_task(text, total=total)
            yield WindowBar(bar, task)


class WindowBar:
    def __init__(self, bar: Progress | None, task: int) -> None:
        self._bar = bar
        self._task = task

    def advance_to(self, done: float) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done)  # type: ignore[arg-type]
