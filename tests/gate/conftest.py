"""The gate's end-to-end tests run the real CLI in a subprocess, each against the embedded lab."""

from __future__ import annotations

import pytest

from devicelab.lab.lab import Lab


@pytest.fixture(scope="session", autouse=True)
def embedded_lab_held(lab: Lab) -> Lab:
    """Holds the embedded lab for the session: each gate joins the running lab instead of starting
    and stopping one of its own (about 2 s a run; the last one out stops it, ARCHITECTURE.md)."""
    return lab
