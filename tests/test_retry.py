from __future__ import annotations

import pytest

from devicelab.errors import AdbError, HandsetError
from devicelab.retry import with_retries


def test_an_infrastructure_failure_is_tried_again_and_noted() -> None:
    calls: list[int] = []
    notes: list[str] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise AdbError("device offline", serial="B2N1", step="flash")
        return "flashed"

    assert with_retries("flash", flaky, pause=0, notes=notes) == "flashed"
    assert len(calls) == 2
    assert notes == ["flash: attempt 1 of 2 failed ([B2N1] flash: device offline); retrying"]


def test_retries_are_bounded_and_the_last_error_is_raised() -> None:
    calls: list[int] = []

    def dead() -> None:
        calls.append(1)
        raise HandsetError(f"gone {len(calls)}", serial="B2N1", step="boot")

    with pytest.raises(HandsetError, match="gone 3"):
        with_retries("boot", dead, attempts=3, pause=0)
    assert len(calls) == 3


def test_a_finding_is_never_retried() -> None:
    calls: list[int] = []

    def leak() -> None:
        calls.append(1)
        raise AssertionError("IMEI to zzhc.vnet.cn")

    with pytest.raises(AssertionError, match="zzhc"):
        with_retries("assert", leak, pause=0)
    assert len(calls) == 1
