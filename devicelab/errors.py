"""The one error tree of devicelab.

Every error is picklable (pytest-xdist ships them between processes) and carries the facts a
QA engineer needs: which handset, which step, which command, what it printed.

    DevicelabError
    ├── ConfigError                  a bad file: inventory, build, policy, identity, ...
    ├── InfrastructureError          the lab failed, not the product
    │   ├── ToolMissingError         adb / fastboot not on PATH
    │   ├── HandsetError             a handset failed a step
    │   │   ├── AdbError
    │   │   │   └── SideloadError    recovery refused an OTA package (`adb sideload` exit 1)
    │   │   ├── FastbootError
    │   │   ├── BootTimeoutError
    │   │   ├── HandsetGoneError
    │   │   ├── UiError              a uiautomator2 step failed (wrapped u2 / adbutils error)
    │   │   │   └── UiServerError    the on-device uiautomator server could not be (re)started
    │   │   └── FlowError            a first-boot flow could not go on; `last_screen` says where
    │   │       ├── UnknownScreenError   a screen the flow data does not know (evidence attached)
    │   │       └── FlowTimeoutError     a screen did not change or pass in time
    │   ├── LeaseTimeoutError
    │   ├── RunInterruptedError      the operator stopped the run (SIGINT, SIGTERM)
    │   └── CaptureError
    ├── UnsupportedChoiceError       the flow data cannot honour a choice (e.g. Google sign-in)
    └── (findings are not errors: see devicelab.analysis; nor is a product that writes the wrong
         consent setting: FlowResult.mismatches)
"""

from __future__ import annotations

from typing import Any


class DevicelabError(Exception):
    """Base of every devicelab error."""

    def __init__(self, message: str, **facts: Any) -> None:
        super().__init__(message)
        self.message = message
        self.facts = facts
        for key, value in facts.items():
            setattr(self, key, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.facts))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[DevicelabError], message: str, facts: dict[str, Any]) -> DevicelabError:
    err = cls.__new__(cls)
    DevicelabError.__init__(err, message, **facts)
    return err


class ConfigError(DevicelabError):
    """A data file is wrong: names the file, the field path and what was expected."""

    path: str
    field: str
    problem: str

    def __init__(self, path: str, field: str, problem: str) -> None:
        where = f"{path}: {field}" if field else path
        super().__init__(f"{where}: {problem}", path=path, field=field, problem=problem)


class InfrastructureError(DevicelabError):
    """The lab failed (handset, cable, tool, proxy), not the product under test."""


class ToolMissingError(InfrastructureError):
    """A required host tool is not installed."""

    tool: str

    def __init__(self, tool: str, hint: str = "") -> None:
        msg = f"`{tool}` was not found on PATH"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg, tool=tool)


class LabNotReadyError(InfrastructureError):
    """What the lab or the build lacks for the gate (a retail build, a locked bootloader with no
    OTA path): the doctor's explanation and its fix, raised before any wait can time out."""

    fix: str

    def __init__(self, message: str, *, fix: str, **facts: Any) -> None:
        super().__init__(f"{message}\n  fix: {fix}", fix=fix, **facts)


class HandsetError(InfrastructureError):
    """A handset failed a step. `serial` and `step` say which and where."""

    serial: str
    step: str

    def __init__(self, message: str, *, serial: str = "", step: str = "", **facts: Any) -> None:
        prefix = f"[{serial}] " if serial else ""
        if step:
            prefix += f"{step}: "
        super().__init__(prefix + message, serial=serial, step=step, **facts)


class CommandError(HandsetError):
    """An external command on or for a handset failed: carries argv, output and exit code."""

    command: str | list[str]
    stdout: str
    stderr: str
    exit_code: int | None

    def __init__(
        self,
        message: str,
        *,
        serial: str = "",
        step: str = "",
        command: str | list[str] = "",
        stdout: str = "",
        stderr: str = "",
        exit_code: int | None = None,
    ) -> None:
        super().__init__(
            message,
            serial=serial,
            step=step,
            command=command,
            stdout=stdout,
            stderr=stderr,
            exit_code=exit_code,
        )


class AdbError(CommandError):
    """An adb operation failed."""


class AdbTimeoutError(AdbError):
    """An adb operation did not finish in time."""


class SideloadError(AdbError):
    """Recovery refused or failed to install an OTA package (`adb sideload` exited 1): why is on
    the phone's screen (recovery's log), which the host cannot read."""


class FastbootError(CommandError):
    """A fastboot operation failed (non-zero exit, or `FAILED (remote: ...)`)."""


class FastbootTimeoutError(FastbootError):
    """fastboot did not finish in time (it waits forever for an absent target)."""


class BootTimeoutError(HandsetError):
    """The handset did not finish booting in time."""


class HandsetGoneError(HandsetError):
    """The handset disappeared and did not come back in time."""


class LeaseTimeoutError(InfrastructureError):
    """No handset matching the request became free in time."""


class CaptureError(InfrastructureError):
    """The traffic capture could not start, or stopped."""


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


class RunInterruptedError(InfrastructureError):
    """The operator stopped the run (SIGINT / SIGTERM): the step that was running names where."""
