"""Identifiers are personal data: they are shown redacted everywhere a person or a log reads them.

`redact` is the one form (the last digits and a short hash: enough to tell two handsets apart
and to match a report against the evidence, never enough to recover the value). Data models
that hold identifiers list those fields in `REDACTED`, and their repr (pytest tracebacks,
assertion messages, logs) shows only the redacted form.
"""

from __future__ import annotations

import hashlib
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
