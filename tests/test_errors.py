from __future__ import annotations

import pickle

import pytest

from devicelab import errors


@pytest.mark.parametrize(
    "err",
    [
        errors.ConfigError("fixtures/lab/x.yaml", "handsets.0.serial", "required field is missing"),
        errors.AdbError("shell failed", serial="B2NABC1", step="shell", command=["ls"], stdout="o",
                        stderr="e", exit_code=1),
        errors.FastbootTimeoutError("timed out", serial="B2N", step="flash", command=["fastboot", "flash"]),
        errors.ToolMissingError("adb", "apt-get install adb"),
        errors.BootTimeoutError("no boot", serial="B2N", step="wait_for_boot"),
    ],
)
def test_errors_survive_pickling(err: errors.DevicelabError) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.facts == err.facts


def test_handset_errors_name_serial_and_step() -> None:
    err = errors.AdbError("exit 1", serial="B2NXYZ", step="push", command=["push"], exit_code=1)
    assert str(err) == "[B2NXYZ] push: exit 1"
    assert err.exit_code == 1
    assert isinstance(err, errors.InfrastructureError)


def test_config_error_names_file_and_field() -> None:
    err = errors.ConfigError("a.yaml", "builds.0.name", "unknown field")
    assert str(err) == "a.yaml: builds.0.name: unknown field"
