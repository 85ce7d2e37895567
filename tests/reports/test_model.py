from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from devicelab.errors import AdbError
from devicelab.reports.model import (
    Coverage,
    EvidenceFile,
    GapRecord,
    HandsetInfo,
    HandsetResult,
    InfraError,
    RunRecord,
    ViolationRecord,
)
from tests.reports import helpers as h


def _result(hid: str, *, violations: int = 0, gaps: int = 0, judged: bool = True) -> HandsetResult:
    return HandsetResult(
        handset=HandsetInfo(id=hid), judged=judged,
        violations=tuple(ViolationRecord(rule="unapproved-host: no rule approves this host", host="t.example")
                         for _ in range(violations)),
        coverage=Coverage(gaps=tuple(GapRecord(kind="tls_undecrypted", detail="pinned") for _ in range(gaps))),
    )


@pytest.mark.parametrize(("handsets", "errors", "expected"), [
    ([_result("a")], [], "pass"),
    ([_result("a", gaps=1)], [], "inconclusive"),
    ([_result("a", violations=1, gaps=1)], [], "fail"),
    ([_result("a", gaps=1), _result("b", judged=False)], [], "error"),
    ([_result("a"), _result("b")], [InfraError(type="AdbError", handset="b", step="flash", message="x")], "error"),
    ([_result("a", violations=1), _result("b", judged=False)], [InfraError(type="X", handset="b", message="x")],
     "fail"),
    ([_result("a")], [InfraError(type="LeaseTimeoutError", message="no handset")], "error"),
    ([], [], "error"),
])
def test_outcome_precedence_is_fail_error_inconclusive_pass(handsets: list[HandsetResult], errors: list[InfraError],
                                                              expected: str) -> None:
    run = h.run_record(handsets, infra_errors=errors)
    assert run.outcome == expected
    assert run.exit_code == {"pass": 0, "fail": 1, "inconclusive": 2, "error": 3}[expected]


def test_handset_outcome_counts_its_own_errors_only() -> None:
    run = h.run_record([_result("a"), _result("b")], infra_errors=[InfraError(type="E", handset="b", message="m")])
    assert (run.outcome_of("a"), run.outcome_of("b"), run.outcome_of("missing")) == ("pass", "error", "error")


def test_uncounted_gap_does_not_make_a_handset_inconclusive() -> None:
    result = HandsetResult(handset=HandsetInfo(id="a"),
                           coverage=Coverage(gaps=(GapRecord(kind="tls_undecrypted", detail="x", counts=False),)))
    assert h.run_record([result]).outcome == "pass"


def test_serials_and_identifiers_are_redacted_on_the_way_in() -> None:
    info = HandsetInfo(id="b2n-01", serial=h.NOKIA_SERIAL)
    assert h.NOKIA_SERIAL not in info.serial
    assert info.serial.startswith("…6789#")
    assert len(info.serial) == len("…6789#") + 6
    assert HandsetInfo(id="x", serial=info.serial).serial == info.serial  # idempotent
    violation = ViolationRecord(rule="r", host="h", identifier=h.ah.IMEI)
    assert h.ah.IMEI not in violation.identifier


@pytest.mark.parametrize("path", ["../secret", "/etc/passwd", "javascript:alert(1)", "a/../../b", "C:\\x", ""])
def test_evidence_paths_must_stay_inside_the_output_folder(path: str) -> None:
    with pytest.raises(ValidationError):
        EvidenceFile(path=path)


def test_infra_error_from_a_devicelab_error_keeps_its_step() -> None:
    err = InfraError.from_exception(AdbError("device offline", serial="S1", step="first boot"), handset="b2n-01")
    assert (err.type, err.step, err.handset) == ("AdbError", "first boot", "b2n-01")
    assert "device offline" in err.message


def test_record_is_frozen_and_knows_its_steps() -> None:
    run = h.run_record([_result("a"), _result("b")])
    assert {s.handset for s in run.steps_of("a")} == {"a"}
    assert run.timeline[0].seconds == 42.0
    with pytest.raises(ValidationError):
        run.run_id = "other"  # type: ignore[misc]
    assert RunRecord.model_validate(run.model_dump()) == run
    assert run.started == datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
