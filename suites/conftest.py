"""Fixtures the suites share, on top of the devicelab plugin's."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import allure
import pytest

from devicelab.testing import Build, Handset


@pytest.fixture
def fresh_handset_on(handset: Handset) -> Iterator[Callable[[Build], Handset]]:
    """`fresh_handset_on(build)`: the leased handset running `build`, factory reset — first boot
    as a buyer sees it. The handset gets its previous build back afterwards (other tests share it)."""
    before = handset.build()

    def prepare(build: Build) -> Handset:
        if handset.fingerprint() != build.fingerprint:
            with allure.step(f"flash {build.name}"):
                handset.flash(build)
        with allure.step("factory reset"):
            handset.factory_reset()
        return handset

    yield prepare
    if handset.fingerprint() != before.fingerprint:
        with allure.step(f"flash {before.name} back"):
            handset.flash(before)
