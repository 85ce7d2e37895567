"""Bounded retries for lab steps. Only infrastructure failures are retried — a flash that timed out,
a handset that dropped off adb — never a finding: a leak seen once is a finding."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from devicelab.errors import InfrastructureError

log = logging.getLogger(__name__)
T = TypeVar("T")


def with_retries(step: str, work: Callable[[], T], *, attempts: int = 2, pause: float = 1.0,
                 label: str = "", notes: list[str] | None = None,
                 before_retry: Callable[[], object] | None = None) -> T:
    """Run `work`; on an InfrastructureError try again, `attempts` times in all, then re-raise the
    last error. Each retry is logged and, when `notes` is given, noted for the report.
    `before_retry` (bounded: it may raise) waits for the lab to be usable again, e.g. a handset
    back on adb: a retry into a cable that is still dropping fails the same way."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except InfrastructureError as exc:
            if attempt == attempts:
                raise
            message = f"{step}: attempt {attempt} of {attempts} failed ({exc}); retrying"
            log.warning("%s%s", f"[{label}] " if label else "", message)
            if notes is not None:
                notes.append(message)
            time.sleep(pause)
            if before_retry is not None:
                before_retry()
    raise AssertionError("unreachable")  # pragma: no cover
