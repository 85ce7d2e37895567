"""First boot on the embedded virtual lab, choice by choice, read back from the settings."""

from __future__ import annotations

import pytest

from devicelab.errors import UnsupportedChoiceError
from devicelab.flows import Choices, Consent, first_boot
from devicelab.handset import Handset
from devicelab.model.builds import load_build


@pytest.fixture(autouse=True)
def global_build(handset: Handset) -> None:
    """These are the global build's flows (android-one-9): a gate test may have left the China build."""
    build = load_build("nokia7plus-00WW_3_22C_SP05")
    if handset.fingerprint() != build.fingerprint:
        handset.flash(build)


def setting(handset: Handset, namespace: str, key: str) -> str:
    return handset.shell(f"settings get {namespace} {key}", check=True).stdout.strip()


def forget_wifi(handset: Handset) -> None:
    """Off and on again: not connected to any network (the virtual radio outlives a factory reset)."""
    handset.shell("svc wifi disable", check=True)
    handset.shell("svc wifi enable", check=True)


def test_accept_all_over_wifi(handset: Handset) -> None:
    handset.factory_reset()
    try:
        result = first_boot(handset, Choices(consent=Consent.ACCEPT_ALL, wifi=True))
        assert setting(handset, "global", "wifi_on") == "1"
    finally:
        forget_wifi(handset)
    assert result.reached_home
    assert result.family == "android-one-9"
    assert result.screens[:2] == ["welcome", "wifi"]
    assert "press text='devicelab'" in result.visits[1].actions
    assert {"copy_apps", "google_sign_in", "skip_account", "google_services", "hmd_privacy"} <= set(result.screens)
    assert all(result.toggles.values())
    assert result.mismatches == []
    assert setting(handset, "secure", "location_mode") == "3"


def test_decline_all_without_sim_sets_up_offline(handset: Handset) -> None:
    handset.factory_reset()
    forget_wifi(handset)
    handset.insert_sim(None, timeout=10)
    try:
        result = first_boot(handset, Choices(consent=Consent.DECLINE_ALL, wifi=False))
    finally:
        handset.insert_sim(handset.entry.sim, timeout=10)
    assert result.reached_home
    assert result.screens[:4] == ["welcome", "insert_sim", "wifi", "setup_offline"]
    assert "date_time" in result.screens
    assert "google_sign_in" not in result.screens  # offline: no account screen at all
    assert not any(result.toggles.values())
    assert result.mismatches == []
    assert setting(handset, "global", "multi_cb") == "0"


def test_one_toggle_can_differ_from_the_rest(handset: Handset) -> None:
    handset.factory_reset()
    result = first_boot(handset, Choices(consent=Consent.DECLINE_ALL, overrides={"location": True}))
    assert result.toggles["location"] is True
    assert result.toggles["usage_diagnostics"] is False
    assert result.mismatches == []
    assert setting(handset, "secure", "location_mode") == "3"
    assert setting(handset, "global", "evenwell_dataagent_enabled") == "0"


def test_a_handset_already_set_up_is_home_at_once(handset: Handset) -> None:
    handset.factory_reset()
    first_boot(handset)
    again = first_boot(handset, Choices(consent=Consent.DECLINE_ALL))
    assert again.reached_home
    assert again.visits == []
    assert again.mismatches == []  # the earlier first boot's choices still show


def test_a_google_account_is_refused_before_the_handset_is_touched(handset: Handset) -> None:
    with pytest.raises(UnsupportedChoiceError, match="android-one-9 cannot sign in to an account"):
        first_boot(handset, Choices(account=True))
