"""Errors of the UI layer and of first-boot flows, in devicelab's error tree.

    InfrastructureError
    └── HandsetError
        ├── UiError                    a uiautomator2 step failed (wrapped u2 / adbutils error)
        │   └── UiServerError          the on-device uiautomator server could not be (re)started
        └── FlowError                  a flow could not go on; `last_screen` says where it was
            ├── UnknownScreenError     a screen the flow data does not know (evidence attached)
            └── FlowTimeoutError       a screen did not change or pass in time
    DevicelabError
    └── UnsupportedChoiceError         the flow data cannot honour a choice (e.g. Google sign-in)

A product that writes the wrong consent setting is not an error here: it is a finding, reported
by `FlowResult.mismatches` and asserted by suites.
"""

from __future__ import annotations

from typing import Any

from devicelab.errors import DevicelabError, HandsetError


class UiError(HandsetError):
    """A UI step failed; `detail` keeps the uiautomator2 / adbutils error text."""

    detail: str

    def __init__(self, message: str, *, serial: str = "", step: str = "", detail: str = "", **facts: Any) -> None:
        super().__init__(message, serial=serial, step=step, detail=detail, **facts)


class UiServerError(UiError):
    """The on-device uiautomator server did not come (back) up within the bounded attempts."""


class FlowError(HandsetError):
    """A first-boot flow stopped; names the flow family and the last screen it knew."""

    family: str
    last_screen: str

    def __init__(self, message: str, *, serial: str = "", step: str = "", family: str = "", last_screen: str = "",
                 **facts: Any) -> None:
        super().__init__(message, serial=serial, step=step, family=family, last_screen=last_screen, **facts)


class UnknownScreenError(FlowError):
    """The handset shows a screen the flow data does not describe.

    `hierarchy` (XML) and `screenshot` (PNG bytes, may be empty) are kept on the error;
    `evidence_dir` names the folder they were written to ("" when none was given).
    """

    hierarchy: str
    screenshot: bytes
    evidence_dir: str


class FlowTimeoutError(FlowError):
    """A screen did not react, or did not pass by itself, within its bound."""


class UnsupportedChoiceError(DevicelabError):
    """The flow data has no way to honour a choice; raised before the handset is touched."""

    family: str
    choice: str

    def __init__(self, message: str, *, family: str, choice: str) -> None:
        super().__init__(message, family=family, choice=choice)
