"""Privacy suites: what a handset sends at first boot, at activation, after an OTA, and idle.

Each captures everything the leased handset sends (the `capture` fixture: proxy, CA where the
build allows it, canary) and asserts that no personal data reaches a host the build's policy does
not allow — and that nothing went unseen. Run them on another build with `--build NAME`; on a
build known to leak, add `--expect-leak REASON` and they must fail with a privacy violation.
"""

from __future__ import annotations

import pytest

from devicelab.testing import (
    Choices,
    Consent,
    Handset,
    HandsetCapture,
    Policy,
    assert_no_personal_data_leaks,
    first_boot,
    observe,
)

#: device seconds to watch: long enough for activation clients (they fire ~60 s after boot)
WINDOW = 300


@pytest.mark.parametrize("consent", [Consent.DECLINE_ALL, Consent.ACCEPT_ALL], ids=["decline", "accept"])
def test_first_boot_sends_no_personal_data_the_policy_forbids(fresh_handset: Handset, capture: HandsetCapture,
                                                             policy: Policy, consent: Consent) -> None:
    identity = fresh_handset.identity()
    result = first_boot(fresh_handset, Choices(consent=consent))
    assert result.reached_home
    observe(fresh_handset, WINDOW)
    assert_no_personal_data_leaks(capture, identity, policy)


def test_activation_sends_no_personal_data_the_policy_forbids(fresh_handset: Handset, capture: HandsetCapture,
                                                             policy: Policy) -> None:
    first_boot(fresh_handset, Choices(consent=Consent.DECLINE_ALL))
    fresh_handset.insert_sim(fresh_handset.entry.sim)
    identity = fresh_handset.identity()
    fresh_handset.unlock()
    fresh_handset.reboot()
    fresh_handset.unlock()
    observe(fresh_handset, WINDOW)
    assert_no_personal_data_leaks(capture, identity, policy)


def test_first_boot_after_an_ota_sends_no_personal_data_the_policy_forbids(
        fresh_handset: Handset, capture: HandsetCapture, policy: Policy) -> None:
    # the update goes over the build the handset runs: what changes is the fingerprint's first boot
    first_boot(fresh_handset, Choices(consent=Consent.DECLINE_ALL))
    identity = fresh_handset.identity()
    fresh_handset.update(fresh_handset.build())
    fresh_handset.unlock()
    observe(fresh_handset, WINDOW)
    assert_no_personal_data_leaks(capture, identity, policy)


@pytest.mark.slow
def test_idle_soak_sends_no_personal_data_the_policy_forbids(fresh_handset: Handset, capture: HandsetCapture,
                                                            policy: Policy) -> None:
    first_boot(fresh_handset, Choices(consent=Consent.DECLINE_ALL))
    identity = fresh_handset.identity()
    observe(fresh_handset, 24 * 3600)  # a day of device time: minutes on the virtual lab
    assert_no_personal_data_leaks(capture, identity, policy)

