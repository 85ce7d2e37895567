"""The virtual handset in the real adb CLI and ppadb: listing, shell v1/v2, exec, getprop."""

from __future__ import annotations

import subprocess

import pytest
from ppadb.client import Client

from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import ADB, run_adb, wait_until


def test_devices_lists_the_model_without_adb_connect(lab: VirtualLab, adb_port: int, serial: str) -> None:
    proc = run_adb(adb_port, "devices", "-l")
    line = next(line for line in proc.stdout.splitlines() if line.startswith(serial))
    assert line.split()[1] == "device"
    assert "model:Nokia_7_plus" in line
    assert "device:B2N_sprout" in line
    assert run_adb(adb_port, "-s", serial, "get-state").stdout.strip() == "device"
    assert run_adb(adb_port, "-s", serial, "get-serialno").stdout.strip() == serial


def test_getprop_serialno(lab: VirtualLab, adb_port: int, serial: str) -> None:
    proc = run_adb(adb_port, "-s", serial, "shell", "getprop", "ro.serialno")
    if proc.returncode == 127:
        pytest.skip("the virtual shell has no getprop yet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == lab.info()[0].serialno


def test_shell_v2_stdout_and_exit_code(lab: VirtualLab, adb_port: int, serial: str) -> None:
    proc = run_adb(adb_port, "-s", serial, "shell", "echo hi")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "hi\n", "")


def test_shell_v2_unknown_command_is_127_on_stderr(lab: VirtualLab, adb_port: int, serial: str) -> None:
    proc = run_adb(adb_port, "-s", serial, "shell", "no_such_tool --flag")
    assert proc.returncode == 127
    assert proc.stdout == ""
    assert "no_such_tool: inaccessible or not found" in proc.stderr


def test_shell_v2_script_with_stderr_and_exit_code(lab: VirtualLab, adb_port: int, serial: str) -> None:
    proc = run_adb(adb_port, "-s", serial, "shell", "echo hi; echo oops >&2; exit 3")
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "hi\n", "oops\n")


def test_shell_v2_keeps_stderr_apart_and_passes_any_exit_code(
    lab: VirtualLab, adb_port: int, serial: str, stand_in_commands: list[str]
) -> None:
    proc = run_adb(adb_port, "-s", serial, "shell", "t-fail 3")
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "to stdout\n", "to stderr\n")


def test_shell_v2_stdin_reaches_the_command(
    lab: VirtualLab, adb_port: int, serial: str, stand_in_commands: list[str]
) -> None:
    proc = run_adb(adb_port, "-s", serial, "shell", "t-cat", stdin=b"piped in\n")
    assert (proc.returncode, proc.stdout) == (0, "piped in\n")


def test_large_output_arrives_whole(lab: VirtualLab, adb_port: int, serial: str, stand_in_commands: list[str]) -> None:
    proc = run_adb(adb_port, "-s", serial, "shell", "t-flood 3000000")
    assert proc.returncode == 0
    assert proc.stdout == "x" * 3_000_000


def test_closing_the_stream_tells_a_long_running_command(
    lab: VirtualLab, adb_port: int, serial: str, stand_in_commands: list[str]
) -> None:
    proc = subprocess.Popen(
        [ADB, "-P", str(adb_port), "-s", serial, "shell", "t-wait-closed"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: "started" in stand_in_commands, 5, "the command to start")
        assert "closed" not in stand_in_commands
    finally:
        proc.terminate()
        proc.wait(5)
    wait_until(lambda: "closed" in stand_in_commands, 5, "the command to see the stream close")


def test_shell_v1_merges_stderr_and_has_no_exit_code(
    lab: VirtualLab, adb_port: int, serial: str, stand_in_commands: list[str]
) -> None:
    assert run_adb(adb_port, "-s", serial, "shell", "-x", "echo hi").stdout == "hi\n"
    proc = run_adb(adb_port, "-s", serial, "shell", "-x", "t-fail 3")
    assert proc.returncode == 0
    assert proc.stdout == "to stdout\nto stderr\n"


def test_exec_out(lab: VirtualLab, adb_port: int, serial: str) -> None:
    proc = run_adb(adb_port, "-s", serial, "exec-out", "echo raw")
    assert (proc.returncode, proc.stdout) == (0, "raw\n")


def test_ppadb_shell(lab: VirtualLab, adb_port: int, serial: str) -> None:
    device = Client(host="127.0.0.1", port=adb_port).device(serial)
    assert device is not None
    assert device.shell("echo from ppadb", timeout=10) == "from ppadb\n"
    assert "inaccessible or not found" in device.shell("no_such_tool", timeout=10)
