"""First boot driven with uiautomator2: screens recognised from the dumped hierarchy, choices
applied as the flow data of the build's family says (`fixtures/flows/`).

    from devicelab.flows import Choices, Consent, first_boot

    result = first_boot(handset, Choices(consent=Consent.DECLINE_ALL, wifi=False))
    assert result.reached_home
    assert result.mismatches == []      # every setting shows the choice made

Modules: ui (uiautomator2 on a Handset), transport (adbutils without stalls), hierarchy
(parsing dumps), model (flow data), recognise, watchers (bounded waits), engine (the loop),
verify (settings afterwards), evidence, errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import allure

from devicelab.flows.choices import Choices, Consent, check_supported
from devicelab.flows.engine import FlowRun
from devicelab.flows.model import WizardFlow, flow_for_fingerprint
from devicelab.flows.result import FlowResult
from devicelab.flows.verify import verify_settings
from devicelab.flows.watchers import Driver, Pace

if TYPE_CHECKING:
    from devicelab.handset import Handset

__all__ = ["Choices", "Consent", "Driver", "FlowResult", "Pace", "WizardFlow", "first_boot", "flow_of"]


def flow_of(handset: Handset) -> WizardFlow:
    """The flow data for the build the handset runs (by its fingerprint)."""
    return flow_for_fingerprint(handset.fingerprint())


def first_boot(handset: Handset, choices: Choices | None = None, *, flow: WizardFlow | None = None,
               pace: Pace | None = None, evidence_dir: Path | None = None, verify: bool = True,
               ui: Driver | None = None) -> FlowResult:
    """Drive the setup wizard to the home screen with `choices`, then read back the settings
    that show them (`result.settings`, `result.mismatches`). `ui` defaults to `handset.ui()`."""
    choices = choices or Choices()
    flow = flow or flow_of(handset)
    check_supported(flow, choices)
    with allure.step(f"first boot ({flow.family}): {choices.describe()}"):
        handset.shell("input keyevent KEYCODE_WAKEUP", check=True)  # taps need a lit screen
        result = FlowRun(ui or handset.ui(), flow, choices, pace=pace, evidence_dir=evidence_dir).run()
        if verify:
            verify_settings(handset, flow, result)
        allure.attach(result.summary(), "first boot", allure.attachment_type.TEXT)
    return result
