"""After a first boot: read the settings that show each choice (`settings get NS KEY`) and
compare them with what the flow chose. A mismatch is a product finding, returned, not raised."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from devicelab.flows.model import WizardFlow
from devicelab.flows.result import FlowResult, SettingReading

if TYPE_CHECKING:
    from devicelab.handset import Handset


def expected_settings(flow: WizardFlow, result: FlowResult) -> list[tuple[str, str, str, str]]:
    """(namespace, key, expected value, source) for every toggle the flow set, then the finish settings."""
    wanted: list[tuple[str, str, str, str]] = []
    for toggle in flow.toggles():
        if toggle.name not in result.toggles:
            continue  # its screen did not appear on this path
        on = result.toggles[toggle.name]
        wanted += [(s.namespace, s.key, s.checked if on else s.unchecked, f"{toggle.name} {'on' if on else 'off'}")
                   for s in toggle.settings]
    wanted += [(s.namespace, s.key, s.value, "setup complete") for s in flow.finish_settings]
    return wanted


def read_setting(handset: Handset, namespace: str, key: str) -> str:
    """`settings get`: the value, "null" when the key is absent (as Android prints it)."""
    command = f"settings get {shlex.quote(namespace)} {shlex.quote(key)}"
    out = handset.shell(command, check=True).stdout
    return out[:-1] if out.endswith("\n") else out


def verify_settings(handset: Handset, flow: WizardFlow, result: FlowResult) -> list[SettingReading]:
    readings = [SettingReading(namespace, key, expected, read_setting(handset, namespace, key), source)
                for namespace, key, expected, source in expected_settings(flow, result)]
    result.settings = readings
    return readings
