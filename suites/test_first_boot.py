"""First boot, as a buyer does it, on every build HMD shipped for the Nokia 7 plus.

For each build and each answer to the setup wizard's optional data sharing (decline all,
accept all), the handset is flashed, factory reset and driven through the setup wizard to the
home screen. Afterwards the handset's settings must show the choice that was made: a switch
turned off in the wizard has to read "off" in `settings get`.

    pytest suites/test_first_boot.py                      # the embedded virtual lab
    pytest suites/test_first_boot.py --lab fixtures/lab/my-rack.yaml --build nokia7plus-00WW_3_22C_SP05

With --build, only that build is tested; without it, all the builds below.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devicelab.testing import Build, Choices, Consent, Handset, first_boot, load_build

SHIPPED_BUILDS = [
    "nokia7plus-00WW_3_22C",  # global, with the China Telecom activation client shipped by mistake
    "nokia7plus-00WW_3_22C_SP05",  # global, the fix
    "nokia7plus-00CN_3_340",  # China
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "build" in metafunc.fixturenames:
        wanted = metafunc.config.getoption("--build")
        names = [wanted] if wanted else SHIPPED_BUILDS
        metafunc.parametrize("build", [load_build(name) for name in names], ids=names)


@pytest.mark.parametrize("consent", [Consent.DECLINE_ALL, Consent.ACCEPT_ALL], ids=str)
def test_first_boot_reaches_home_and_keeps_the_consent_choice(
    fresh_handset_on: Callable[[Build], Handset], build: Build, consent: Consent
) -> None:
    handset = fresh_handset_on(build)

    result = first_boot(handset, Choices(consent=consent, wifi=False))

    assert result.reached_home, result.summary()
    assert result.screens[0] == "welcome"
    assert result.consents, f"no optional data-sharing switch was offered on {build.name}"
    chosen = consent == Consent.ACCEPT_ALL
    assert all(value == chosen for value in result.consents.values()), result.summary()
    assert result.mismatches == [], "settings do not show the choice:\n" + "\n".join(
        reading.describe() for reading in result.mismatches)
