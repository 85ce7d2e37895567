"""The shipped privacy suites catch the 2019 leak when pointed at the leaky build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SUITES = Path(__file__).resolve().parents[2] / "suites" / "test_privacy.py"


def test_first_boot_suite_fails_the_leaky_build_with_a_readable_table() -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(SUITES), "-k", "first_boot_sends and decline", "--build", "nokia7plus-00WW_3_22C"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "PrivacyViolation" in proc.stdout
    assert "violation(s) of policy 'global'" in proc.stdout
    header = next(line for line in proc.stdout.splitlines() if "host" in line and "decoders" in line)
    assert all(column in header for column in ("identifier", "where", "app", "rule"))
    assert "zzhc.vnet.cn  iccid" in proc.stdout


def _suite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rxX", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(SUITES), "-k", "first_boot_sends and decline", *args],
                          capture_output=True, text=True, timeout=600)


def test_the_fixed_user_build_is_inconclusive_and_expect_inconclusive_says_so() -> None:
    # the user build takes no CA: its TLS is unread, so the suite cannot pass (README: When devicelab says pass)
    blind = _suite("--build", "nokia7plus-00WW_3_22C_SP05")
    assert blind.returncode == 1, blind.stdout[-2000:]
    assert "CoverageIncomplete" in blind.stdout
    assert "ca_not_installed" in blind.stdout
    expected = _suite("--build", "nokia7plus-00WW_3_22C_SP05", "--expect-inconclusive", "user build: no CA")
    assert expected.returncode == 0, expected.stdout[-2000:]
    assert "known blind spot: user build: no CA" in expected.stdout
    # a leak is not the expected inconclusive: the strict xfail turns it into a failure
    leak = _suite("--build", "nokia7plus-00WW_3_22C", "--expect-inconclusive", "user build: no CA")
    assert leak.returncode == 1, leak.stdout[-2000:]
