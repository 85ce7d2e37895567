"""The run's timeline: each step with its start, end and outcome, and a screenshot after it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devicelab.errors import DevicelabError
from devicelab.reports.model import Step

log = logging.getLogger(__name__)


@dataclass
class Timeline:
    steps: list[Step] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, name: str, handset: str = "") -> Iterator[None]:
        start = datetime.now(UTC)
        log.info("%s%s", f"[{handset}] " if handset else "", name)
        try:
            yield
        except DevicelabError as exc:
            self.steps.append(Step(name=name, handset=handset, start=start, end=datetime.now(UTC), status="failed",
                                   message=str(exc)))
            raise
        except BaseException:
            self.steps.append(Step(name=name, handset=handset, start=start, end=datetime.now(UTC), status="failed",
                                   message="interrupted"))
            raise
        self.steps.append(Step(name=name, handset=handset, start=start, end=datetime.now(UTC)))
