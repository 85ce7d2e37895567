"""The Allure command line, when installed: Allure results into Allure's HTML report.

`allure` is looked up on PATH, then in the project-local install scripts/bootstrap.sh makes
(.venv/node, from the npm package allure-commandline; it needs Java). Missing is not an error:
the run gets a note, and the results stay in OUT/allure-results for CI's own Allure plugin.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPORT_DIR = "allure-report"
VERSION_TIMEOUT_S = 60.0
GENERATE_TIMEOUT_S = 300.0
#: `--single-file` appeared in Allure 2.24.
_SINGLE_FILE_SINCE = (2, 24)


@dataclass(frozen=True)
class AllureOutcome:
    report: Path | None  # the HTML entry point, when generated
    note: str  # what happened, for the run's notes


def find_allure() -> str | None:
    """The Allure CLI: on PATH, or installed next to this venv by scripts/bootstrap.sh."""
    found = shutil.which("allure")
    if found:
        return found
    local = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "allure"
    return str(local) if local.is_file() and os.access(local, os.X_OK) else None


def _version(allure: str) -> tuple[int, ...] | None:
    try:
        done = subprocess.run([allure, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", done.stdout)
    if done.returncode != 0 or match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def generate(results: Path, out: Path, *, allure: str | None = None,
             timeout: float = GENERATE_TIMEOUT_S) -> AllureOutcome:
    """Run `allure generate` (single file when supported) into out/allure-report; never raises for a missing CLI."""
    allure = allure or find_allure()
    if allure is None:
        return AllureOutcome(None, "Allure HTML not generated: the `allure` command line is not installed "
                                   "(results are in allure-results/)")
    version = _version(allure)
    if version is None:
        return AllureOutcome(None, f"Allure HTML not generated: `{allure} --version` failed")
    target = out / REPORT_DIR
    argv = [allure, "generate", "--clean", "-o", str(target), str(results)]
    single = version >= _SINGLE_FILE_SINCE
    if single:
        argv.insert(2, "--single-file")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return AllureOutcome(None, f"Allure HTML not generated: `allure generate` took more than {timeout:.0f} s")
    except OSError as exc:
        return AllureOutcome(None, f"Allure HTML not generated: {exc.strerror}")
    index = target / "index.html"
    if done.returncode != 0 or not index.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return AllureOutcome(None, f"Allure HTML not generated: `allure generate` exited {done.returncode}: "
                                   f"{tail[0][:200]}")
    where = f"{REPORT_DIR}/index.html"
    kind = "single file" if single else "folder; open it through a web server"
    return AllureOutcome(index, f"Allure HTML report: {where} ({kind}, Allure {'.'.join(map(str, version))})")
