"""Fixtures the suites share, on top of the devicelab plugin's."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import allure
import pytest

from devicelab.builds import Build, available_builds, load_build
from devicelab.gate.options import policy_for
from devicelab.handset import Handset
from devicelab.policy import Policy


@pytest.fixture
def fresh_handset_on(handset: Handset) -> Iterator[Callable[[Build], Handset]]:
    """`fresh_handset_on(build)`: the leased handset running `build`, factory reset — first boot
    as a buyer sees it. The handset gets its previous build back afterwards (other tests share it)."""
    before = handset.fingerprint()

    def prepare(build: Build) -> Handset:
        if handset.fingerprint() != build.fingerprint:
            with allure.step(f"flash {build.name}"):
                handset.flash(build)
        with allure.step("factory reset"):
            handset.factory_reset()
        return handset

    yield prepare
    if handset.fingerprint() != before:
        previous = next((b for b in map(load_build, available_builds()) if b.fingerprint == before), None)
        if previous is not None:
            with allure.step(f"flash {previous.name} back"):
                handset.flash(previous)


@pytest.fixture
def policy(handset: Handset) -> Policy:
    """The policy of the build the handset runs (fixtures/policies/, by SKU)."""
    build = next((b for b in map(load_build, available_builds()) if b.fingerprint == handset.fingerprint()), None)
    if build is None:
        pytest.skip("the handset runs a build devicelab has no manifest for")
    return policy_for(build, None)[0]
