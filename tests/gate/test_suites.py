"""The shipped privacy suites catch the 2019 leak when pointed at the leaky build, and say so
without printing one raw identifier of the handset anywhere a person or a CI system reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devicelab.lab.lab import Lab
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
    assert "violation(s) of policy 'global'" in proc.stdout
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
