"""What a suite needs, in one import: the handset, first boot and its choices, the observation
window, the capture and the assertion. The fixtures (`lab`, `handset`, `flashed_handset`,
`fresh_handset`, `capture`, `policy`) come from the plugin, registered through `pytest11`.

    from devicelab.testing import Choices, Consent, Handset, HandsetCapture, Policy, first_boot, observe
    from devicelab.testing import assert_no_personal_data_leaks
"""

from devicelab.activation.window import Observation
from devicelab.capture.session import HandsetCapture
from devicelab.flows import Choices, Consent, first_boot
from devicelab.handset import Handset
from devicelab.model.builds import Build, load_build
from devicelab.model.identity import Identity
from devicelab.model.policy import Policy
from devicelab.testing.assertions import CoverageIncomplete, PrivacyViolation, assert_no_personal_data_leaks
from devicelab.testing.steps import observe

__all__ = [
    "Build", "Choices", "Consent", "CoverageIncomplete", "Handset", "HandsetCapture", "Identity", "Observation",
    "Policy", "PrivacyViolation", "assert_no_personal_data_leaks", "first_boot", "load_build", "observe",
]
