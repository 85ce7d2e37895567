"""Where a virtual handset keeps the user's consent choices: Android settings keys that the setup
wizard writes and the apps read before sending analytics.

This module is the one place those keys are named. Google's usage-and-diagnostics opt-in and the
error-report hand-off use real Android keys; HMD's real keys are not public, so the `evenwell_*`
names are the lab's own (also written by fixtures/wizards/*.yaml).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

from devicelab.model.builds import ConsentName

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem


@dataclass(frozen=True)
class ConsentSetting:
    """One consent as a settings entry: `settings get NAMESPACE KEY` == `granted` means yes."""

    namespace: str
    key: str
    granted: str = "1"
    denied: str = "0"


#: "Send usage and diagnostic data" (Google setup wizard): Play services' usage-reporting opt-in
GOOGLE_USAGE_DIAGNOSTICS = ConsentSetting("global", "multi_cb")
#: the same toggle also lets ActivityManager hand crash and ANR reports to the error reporter
GOOGLE_ERROR_REPORTS = ConsentSetting("global", "send_action_app_error")
#: "Help improve Nokia phones" (HMD privacy screen)
OEM_UX_PROGRAM = ConsentSetting("global", "evenwell_ux_program")
#: "Send analytics data" (HMD privacy screen)
OEM_ANALYTICS = ConsentSetting("global", "evenwell_dataagent_enabled")
#: the user agreement / privacy policy of the China setup wizard
OEM_PRIVACY_AGREED = ConsentSetting("global", "evenwell_privacy_agreed")

CONSENTS: Mapping[ConsentName, ConsentSetting] = {
    "google_usage_diagnostics": GOOGLE_USAGE_DIAGNOSTICS,
    "google_error_reports": GOOGLE_ERROR_REPORTS,
    "oem_ux_program": OEM_UX_PROGRAM,
    "oem_analytics": OEM_ANALYTICS,
    "oem_privacy_agreed": OEM_PRIVACY_AGREED,
}
assert set(CONSENTS) == set(get_args(ConsentName)), "every consent a build may name needs a settings key"


def granted(system: AndroidSystem, name: ConsentName) -> bool:
    """True only when the user said yes: an absent key is no consent (opt-in)."""
    setting = CONSENTS[name]
    return system.settings(setting.namespace).get(setting.key) == setting.granted


def record(system: AndroidSystem, name: ConsentName, given: bool) -> None:
    """Write a choice as the setup wizard does."""
    setting = CONSENTS[name]
    system.settings(setting.namespace)[setting.key] = setting.granted if given else setting.denied
