"""Identifiers are personal data: they are shown redacted everywhere a person or a log reads them.

`redact` is the one form (the last digits and a short hash: enough to tell two handsets apart
and to match a report against the evidence, never enough to recover the value). Data models
that hold identifiers list those fields in `REDACTED`, and their repr (pytest tracebacks,
assertion messages, logs) shows only the redacted form.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any, ClassVar


def redact(value: str) -> str:
    """'490154203237518' -> '…7518#1b9f3c': the last digits and a short hash."""
    keep = 4 if len(value) > 8 else 2
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:6]
    return f"…{value[-keep:]}#{digest}"


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple | list):
        return type(value)(_redacted(v) for v in value)
    return value


class RedactedRepr:
    """Mixin for pydantic models: the fields named in REDACTED appear redacted in repr and str."""

    REDACTED: ClassVar[frozenset[str]] = frozenset()

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():  # type: ignore[misc]
            yield name, _redacted(value) if name in self.REDACTED else value


# -- logs ---------------------------------------------------------------------------------------
# Log lines name handsets by serial, and errors carry what a command printed: every identifier the
# lab knows or a handset reported is scrubbed from devicelab's log records as they are made.
_known: dict[str, str] = {}
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None
_MIN_LENGTH = 6  # shorter values (a 2-digit MNC) would scrub ordinary words and numbers


def remember(values: Iterable[str]) -> None:
    """Identifiers to scrub from every devicelab log record from now on."""
    global _pattern
    with _lock:
        fresh = {v: redact(v) for v in values if len(v) >= _MIN_LENGTH and v not in _known}
        if fresh:
            _known.update(fresh)
            _pattern = re.compile("|".join(map(re.escape, sorted(_known, key=len, reverse=True))))


def scrub(text: str) -> str:
    """`text` with every remembered identifier redacted."""
    pattern = _pattern
    return text if pattern is None else pattern.sub(lambda m: _known[m.group(0)], text)


def install_log_scrubber() -> None:
    """Scrub devicelab's log records (idempotent): for the command line and the pytest plugin."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "devicelab_scrubber", False):
        return

    def scrubbing(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name.startswith("devicelab") and _pattern is not None:
            record.msg, record.args = scrub(record.getMessage()), None
        return record

    scrubbing.devicelab_scrubber = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbing)
