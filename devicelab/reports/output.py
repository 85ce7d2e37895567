"""The output folder of a run, guarded: every report file is scrubbed, no private key is ever written.

    OUT/verdict.json        the run record (see model.py)
    OUT/junit.xml           one testcase per handset and check
    OUT/report.html         the self-contained report people read
    OUT/allure-results/     Allure result files; OUT/allure-report/ when the Allure CLI is installed
    OUT/evidence/           raw evidence (unredacted): captures, logcat, screenshots, MANIFEST.json

Report files are written through `ReportFolder` only; `audit` checks the finished folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from devicelab.errors import InfrastructureError
from devicelab.reports.redaction import Redactor

EVIDENCE_DIR = "evidence"
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
#: Key stores by name: PKCS#12 bundles and DER keys carry no PEM header to find.
_KEY_NAMES = re.compile(r"(\.(p12|pfx|key|jks|keystore)|-ca\.pem)$", re.IGNORECASE)
_CERT_ONLY_NAMES = re.compile(r"-ca-cert\.(p12|pem|cer)$", re.IGNORECASE)
#: Files larger than this are audited for keys in their first and last bytes only.
_AUDIT_FULL_BYTES = 64 * 1024 * 1024


class ReportLeakError(InfrastructureError):
    """A finished output folder held a private key or a raw identifier outside the evidence folder."""


def is_private_key(name: str, data: bytes) -> bool:
    """A PEM private key by content, or a key store by name (a CA certificate alone is fine)."""
    if _PRIVATE_KEY.search(data):
        return True
    return bool(_KEY_NAMES.search(name)) and not _CERT_ONLY_NAMES.search(name)


class ReportFolder:
    """Writes report files under `root`: text scrubbed by the redactor, paths kept inside, keys refused."""

    def __init__(self, root: Path, redactor: Redactor) -> None:
        self.root = root
        self.redactor = redactor
        root.mkdir(parents=True, exist_ok=True)

    def path(self, relative: str) -> Path:
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise ValueError(f"{relative!r} is outside {self.root}")
        return target

    def write_text(self, relative: str, text: str) -> Path:
        # "replace": a lone surrogate (wire bytes decoded with surrogateescape) must not stop a report
        # Identifier forms only: positions were scrubbed where wire text entered the record (collect.py)
        return self.write_bytes(relative, self.redactor.scrub(text, positions=False).encode("utf-8", "replace"))

    def write_bytes(self, relative: str, data: bytes) -> Path:
        """Write atomically (a reader never sees half a report)."""
        if is_private_key(relative, data):
            raise ReportLeakError(f"refusing to write {relative}: it holds a private key", path=relative)
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return target


def audit(root: Path, redactor: Redactor) -> list[str]:
    """Problems in a finished output folder: private keys anywhere (removed), raw identifiers in report files.

    Identifier forms are looked for; positions are not (a report is full of numbers, and wire text had its
    positions scrubbed on the way into the record).
    """
    problems: list[str] = []
    evidence = root / EVIDENCE_DIR
    # Allure's own report is built from allure-results (audited here) and bundles a lot of script whose
    # numbers could look like a short identifier by chance: only its keys are looked for.
    derived = root / "allure-report"
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        relative = path.relative_to(root).as_posix()
        size = path.stat().st_size
        with path.open("rb") as fo:
            data = fo.read() if size <= _AUDIT_FULL_BYTES else fo.read(1024 * 1024)
        if is_private_key(path.name, data):
            path.unlink()  # never leave a key behind, even when something upstream put it there
            problems.append(f"{relative}: a private key (removed)")
            continue
        if path.is_relative_to(evidence) or path.is_relative_to(derived):
            continue
        leaked = redactor.leaks(data)
        if leaked:
            problems.append(f"{relative}: raw identifiers ({', '.join(leaked)})")
    return problems
