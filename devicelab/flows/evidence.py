"""Evidence of a screen the flow could not handle: its hierarchy and a screenshot, kept on the
error, written to a folder and attached to Allure when a report is being written."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import allure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evidence:
    hierarchy: str
    screenshot: bytes
    folder: Path | None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80] or "screen"


def keep(name: str, hierarchy: str, screenshot: bytes, folder: Path | None) -> Evidence:
    """Write `NAME.xml` / `NAME.png` under `folder` (if given) and attach both to Allure."""
    written: Path | None = None
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{_safe(name)}.xml").write_text(hierarchy, encoding="utf-8")
            if screenshot:
                (folder / f"{_safe(name)}.png").write_bytes(screenshot)
            written = folder
        except OSError as exc:  # evidence must never hide the failure it documents
            log.warning("could not write evidence to %s: %s", folder, exc)
    # without an Allure listener these are no-ops
    allure.attach(hierarchy, f"{name}: hierarchy", allure.attachment_type.XML)
    if screenshot:
        allure.attach(screenshot, f"{name}: screenshot", allure.attachment_type.PNG)
    return Evidence(hierarchy, screenshot, written)
