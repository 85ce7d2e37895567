"""The suite API's actions as Allure steps, so a suite's report reads like the gate's timeline:
first boot (devicelab.flows reports it), each trigger (Handset.step), the window (here), the
judgement (devicelab.testing.assertions)."""

from __future__ import annotations

import allure

from devicelab.activation import window
from devicelab.handset import Handset


def observe(handset: Handset, device_seconds: float) -> window.Observation:
    """The observation window (devicelab.activation.window.observe), as one step."""
    with allure.step(f"observe {device_seconds:.0f} device seconds"):
        return window.observe(handset, device_seconds)
