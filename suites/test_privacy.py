"""Privacy suites: what a handset sends at first boot, at activation, after an OTA, and idle.

Each captures everything the leased handset sends (the `capture` fixture: proxy, CA where the
build allows it, canary) and asserts that no personal data reaches a host the build's policy does
not allow — and that nothing went unseen. Run them on another build with `--build NAME`.
"""

from __future__ import annotations

import pytest

from devicelab import activation
from devicelab.assertions import assert_no_personal_data_leaks
from devicelab.builds import load_build
from devicelab.capture.session import HandsetCapture
from devicelab.flows import Choices, Consent, first_boot
from devicelab.handset import Handset
from devicelab.policy import Policy

#: device seconds to watch: long enough for activation clients (they fire ~60 s after boot)
WINDOW = 300


@pytest.mark.parametrize("consent", [Consent.DECLINE_ALL, Consent.ACCEPT_ALL], ids=["decline", "accept"])
def test_first_boot_sends_no_personal_data_the_policy_forbids(fresh_handset: Handset, capture: HandsetCapture,
                                                             policy: Policy, consent: Consent) -> None:
    identity = fresh_handset.identity()
    result = first_boot(fresh_handset, Choices(consent=consent))
    assert result.reached_home
    activation.observe(fresh_handset, WINDOW)
    assert_no_personal_data_leaks(capture, identity, policy)


def test_activation_sends_no_personal_data_the_policy_forbids(fresh_handset: Handset, capture: HandsetCapture,
                                                             policy: Policy) -> None:
    first_boot(fresh_handset, Choices(consent=Consent.DECLINE_ALL))
    activation.trigger_sim_change(fresh_handset, fresh_handset.entry.sim)
    identity = fresh_handset.identity()
    activation.trigger_screen_on_unlock(fresh_handset)
    activation.trigger_reboot(fresh_handset)
    activation.trigger_screen_on_unlock(fresh_handset)
    activation.observe(fresh_handset, WINDOW)
    assert_no_personal_data_leaks(capture, identity, policy)


def test_first_boot_after_an_ota_sends_no_personal_data_the_policy_forbids(
        fresh_handset: Handset, capture: HandsetCapture, policy: Policy) -> None:
    # the update goes over the same build here; pass --build to gate a real candidate
    build = next(b for b in map(load_build, ["nokia7plus-00WW_3_22C_SP05", "nokia7plus-00CN_3_340"])
                 if b.fingerprint == fresh_handset.fingerprint())
    first_boot(fresh_handset, Choices(consent=Consent.DECLINE_ALL))
    identity = fresh_handset.identity()
    activation.trigger_build_change(fresh_handset, build, build)
    activation.trigger_screen_on_unlock(fresh_handset)
    activation.observe(fresh_handset, WINDOW)
    assert_no_personal_data_leaks(capture, identity, policy)


@pytest.mark.slow
def test_idle_soak_sends_no_personal_data_the_policy_forbids(fresh_handset: Handset, capture: HandsetCapture,
                                                            policy: Policy) -> None:
    first_boot(fresh_handset, Choices(consent=Consent.DECLINE_ALL))
    identity = fresh_handset.identity()
    activation.observe(fresh_handset, 24 * 3600)  # a day of device time: minutes on the virtual lab
    assert_no_personal_data_leaks(capture, identity, policy)
