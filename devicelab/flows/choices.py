"""What a test asks of a first boot: the consent choice, Wi-Fi, a Google account."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from devicelab.errors import UnsupportedChoiceError
from devicelab.flows.model import Toggle, When, WizardFlow


class Consent(enum.StrEnum):
    """The answer to every optional data-sharing switch of the setup wizard."""

    DECLINE_ALL = "decline_all"
    ACCEPT_ALL = "accept_all"


@dataclass(frozen=True)
class Choices:
    """A first boot as a buyer would do it.

    `overrides` sets single toggles by name (e.g. `{"location": True}` with decline all);
    `wifi_ssid` is the lab's test network, joined when `wifi` is set.
    """

    consent: Consent = Consent.DECLINE_ALL
    wifi: bool = False
    account: bool = False
    wifi_ssid: str = "devicelab"
    overrides: Mapping[str, bool] = field(default_factory=dict, hash=False)

    def value_of(self, toggle: Toggle) -> bool:
        """On or off, for this toggle."""
        if toggle.fixed is not None:
            return toggle.fixed
        if toggle.name in self.overrides:
            return self.overrides[toggle.name]
        return self.consent == Consent.ACCEPT_ALL

    def allows(self, when: When) -> bool:
        return ((when.wifi is None or when.wifi == self.wifi)
                and (when.account is None or when.account == self.account)
                and (when.consent is None or when.consent == self.consent.value))

    def placeholders(self) -> dict[str, str]:
        return {"wifi_ssid": self.wifi_ssid}

    def describe(self) -> str:
        parts = [self.consent.value.replace("_", " "), "Wi-Fi" if self.wifi else "no Wi-Fi",
                 "Google account" if self.account else "no account"]
        parts += [f"{name}={'on' if on else 'off'}" for name, on in sorted(self.overrides.items())]
        return ", ".join(parts)


def check_supported(flow: WizardFlow, choices: Choices) -> None:
    """UnsupportedChoiceError, before anything touches the handset, for what the flow cannot do."""
    if choices.account and not flow.account.supported:
        raise UnsupportedChoiceError(f"flow {flow.family} cannot sign in to an account: {flow.account.reason}",
                                     family=flow.family, choice="account")
    known = {t.name: t for t in flow.toggles()}
    for name in choices.overrides:
        if name not in known:
            raise UnsupportedChoiceError(
                f"flow {flow.family} has no toggle {name!r}; it has: {', '.join(sorted(known))}",
                family=flow.family, choice=f"overrides.{name}")
        if known[name].fixed is not None:
            raise UnsupportedChoiceError(
                f"flow {flow.family}: toggle {name!r} is required by the wizard and cannot be overridden",
                family=flow.family, choice=f"overrides.{name}")
