"""The shipped privacy suites catch the 2019 leak when pointed at the leaky build, and say so
without printing one raw identifier of the handset anywhere a person or a CI system reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devicelab.lab.lab import Lab
from devicelab.model.builds import load_build
from devicelab.testing.capture import RAW

SUITES = Path(__file__).resolve().parents[2] / "suites" / "test_privacy.py"


def raw_identifiers(lab: Lab) -> set[str]:
    """Every identifier of every handset of the lab, as the handsets report them now."""
    values: set[str] = set()
    with lab.lease_many(len(lab.entries), {}, timeout=120, holder="redaction check") as held:
        for h in (each.handset for each in held):
            values |= {value for _, value in h.identity().identifiers()} | {h.serial}
    return values


def attachments(node: object) -> list[dict[str, str]]:
    """Every attachment of an Allure result or container, its steps and fixtures included."""
    if isinstance(node, list):
        return [a for item in node for a in attachments(item)]
    if not isinstance(node, dict):
        return []
    found = list(node.get("attachments", []))
    return found + [a for key in ("steps", "befores", "afters") for a in attachments(node.get(key, []))]


def test_first_boot_suite_fails_the_leaky_build_with_a_readable_redacted_table(lab: Lab, tmp_path: Path) -> None:
    results, junit = tmp_path / "allure", tmp_path / "junit.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(SUITES), "-k", "first_boot_sends and decline", "--build", "nokia7plus-00WW_3_22C",
                           "--alluredir", str(results), "--junitxml", str(junit)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "PrivacyViolation" in proc.stdout
    assert "leak(s) against policy 'global' (host and identifier)" in proc.stdout
    header = next(line for line in proc.stdout.splitlines() if "host" in line and "decoders" in line)
    assert all(column in header for column in ("identifier", "where", "app", "rule"))
    assert "zzhc.vnet.cn  iccid" in proc.stdout

    # what people and CI read: the terminal, JUnit, the Allure results and every attachment that
    # is not declared raw evidence
    raw_attachments = {a["source"] for p in results.glob("*.json") for a in attachments(json.loads(p.read_text()))
                       if RAW in a["name"]}
    outputs = {"terminal": proc.stdout + proc.stderr, "junit": junit.read_text()}
    outputs |= {p.name: p.read_text(errors="replace") for p in results.iterdir()
                if p.name not in raw_attachments and p.suffix != ".png"}
    assert len(outputs) > 4
    leaked = {(where, value) for value in raw_identifiers(lab) for where, text in outputs.items() if value in text}
    assert leaked == set()


def steps(node: dict) -> list[str]:
    return [s["name"] for s in node.get("steps", [])] + [n for s in node.get("steps", []) for n in steps(s)]


def test_a_suite_reports_like_the_gate(tmp_path: Path) -> None:
    """Steps, evidence on the test, build/policy/SIM as parameters, one host, the build under test
    in the environment, and the evidence kept even without --alluredir."""
    results, kept = tmp_path / "allure", tmp_path / "kept"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(SUITES), "-k", "first_boot_sends and decline", "--build", "nokia7plus-00WW_3_22C_SP05",
                           "--alluredir", str(results), "--devicelab-out", str(kept),
                           "--expect-inconclusive", "the XTRA daemon goes around the proxy"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    (result,) = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    params = {p["name"]: p["value"] for p in result["parameters"]}
    assert params["build"] == "'nokia7plus-00WW_3_22C_SP05'"
    assert params["policy"] == "'global'"
    assert params["SIM"] == "'telenor-no'"
    assert "…" in params["handset"]  # the serial, redacted
    assert [label["value"] for label in result["labels"] if label["name"] == "host"] == ["local"]
    names = steps(result)
    assert any(n.startswith("first boot") for n in names), names
    assert "observe 300 device seconds" in names
    assert any(n.startswith("judge the capture by policy global") for n in names)
    on_test = {a["name"] for a in attachments(result)}
    assert {"privacy verdict", "findings (identifiers redacted)", f"capture (HAR export) {RAW}"} <= on_test
    environment = (results / "environment.properties").read_text()
    assert load_build("nokia7plus-00WW_3_22C_SP05").fingerprint in environment  # the build under test
    # kept without Allure: one folder per judged test, and the run's verdicts
    (folder,) = [p for p in kept.iterdir() if p.is_dir()]
    assert {"verdict.json", "findings.txt"} <= {p.name for p in folder.iterdir()}
    assert json.loads((kept / "devicelab-verdicts.json").read_text())[0]["outcome"] == "inconclusive"
    assert f"evidence and verdicts: {kept}" in proc.stdout

def _suite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rxX", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(SUITES), "-k", "first_boot_sends and decline", *args],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # make test runs the suites with --expect-inconclusive itself
def test_the_fixed_build_is_inconclusive_and_expect_inconclusive_says_so() -> None:
    # the XTRA daemon goes around the proxy: unread, so the suite cannot pass (README: When devicelab says pass)
    blind = _suite("--build", "nokia7plus-00WW_3_22C_SP05")
    assert blind.returncode == 1, blind.stdout[-2000:]
    assert "CoverageIncomplete" in blind.stdout
    assert "unproxied_connection: xtrapath1.izatcloud.net" in blind.stdout
    expected = _suite("--build", "nokia7plus-00WW_3_22C_SP05", "--expect-inconclusive", "XTRA around the proxy")
    assert expected.returncode == 0, expected.stdout[-2000:]
    assert "known blind spot: XTRA around the proxy" in expected.stdout
    # a leak is not the expected inconclusive: the strict xfail turns it into a failure
    leak = _suite("--build", "nokia7plus-00WW_3_22C", "--expect-inconclusive", "XTRA around the proxy")
    assert leak.returncode == 1, leak.stdout[-2000:]
