"""The evidence bundle: raw files of the run (captures, logcat, screenshots) under OUT/evidence/.

Evidence is unredacted by design: it is what a privacy officer hands to an investigation. A CI
system that may not store identifiers asks for a redacted bundle (`--evidence redacted`): logs
are kept scrubbed of every identifier form the analysis searches, and captures and screenshots
are left out (a compressed or binary body cannot be redacted with certainty), each with a note.
Reports link to it and never inline it. A private key (the capture CA's) is never copied in;
the manifest lists every file with its size and SHA-256 so a later reader can check nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from devicelab.reports.model import EvidenceFile
from devicelab.reports.output import EVIDENCE_DIR, is_private_key
from devicelab.reports.redaction import Redactor

MANIFEST = "MANIFEST.json"
#: evidence a redacted bundle keeps, scrubbed: plain-text logs
REDACTABLE = (".txt", ".log")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SNIFF_BYTES = 1024 * 1024


def safe_name(name: str) -> str:
    """A file or folder name that is safe on every file system and in a URL."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "unnamed"
    return cleaned[:120]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fo:
        for block in iter(lambda: fo.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _holds_key(path: Path) -> bool:
    with path.open("rb") as fo:
        head = fo.read(_SNIFF_BYTES)
    return is_private_key(path.name, head)


class EvidenceBundle:
    """Collects evidence files under `out/evidence/<handset or run>/`; `files` feeds RunRecord.evidence."""

    def __init__(self, out: Path, *, redactor: Redactor | None = None) -> None:
        self.out = out
        self.redactor = redactor  # set: a redacted bundle
        self.root = out / EVIDENCE_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, EvidenceFile] = {}
        self.refused: list[str] = []  # what was not copied, and why

    @property
    def files(self) -> tuple[EvidenceFile, ...]:
        return tuple(self._files[key] for key in sorted(self._files))

    def folder(self, handset: str = "") -> Path:
        """Where a handset's evidence goes; a producer may write there directly, then `adopt` the file."""
        path = self.root / (safe_name(handset) if handset else "run")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add(self, source: Path, *, handset: str = "", description: str = "", name: str = "") -> list[str]:
        """Copy a file, or a folder's files, into the bundle; the relative paths of what was copied."""
        if source.is_dir():
            added: list[str] = []
            for path in sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink()):
                inner = "/".join(safe_name(part) for part in path.relative_to(source).parts)
                added += self.add(path, handset=handset, description=description,
                                  name=f"{safe_name(name or source.name)}/{inner}")
            return added
        if not source.is_file():
            self.refused.append(f"{source}: not found")
            return []
        if _holds_key(source):
            self.refused.append(f"{source.name}: a private key is never part of the evidence")
            return []
        target = self.folder(handset) / (name or safe_name(source.name))
        target = self._unique(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.redactor is None:
            shutil.copyfile(source, target)
        elif source.suffix in REDACTABLE:
            text = source.read_text(encoding="utf-8", errors="replace")
            target.write_text(self.redactor.scrub(text), encoding="utf-8")
        else:
            self.refused.append(f"{source.name}: left out of a redacted bundle (it may hold identifiers in "
                                "forms that cannot be redacted with certainty)")
            return []
        return [self._register(target, handset, description)]

    def adopt(self, path: Path, *, handset: str = "", description: str = "") -> str | None:
        """Register a file already written inside the evidence folder (a key is deleted, not kept)."""
        path = path.resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            self.refused.append(f"{path}: not a file inside {self.root}")
            return None
        if _holds_key(path):
            path.unlink()
            self.refused.append(f"{path.name}: a private key is never part of the evidence (removed)")
            return None
        return self._register(path, handset, description)

    def write_manifest(self) -> Path:
        manifest = self.root / MANIFEST
        data = {"files": [f.model_dump(mode="json") for f in self.files], "refused": self.refused}
        manifest.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return manifest

    def _register(self, path: Path, handset: str, description: str) -> str:
        relative = path.resolve().relative_to(self.out.resolve()).as_posix()
        self._files[relative] = EvidenceFile(path=relative, description=description, handset=handset,
                                             size=path.stat().st_size, sha256=_sha256(path))
        return relative

    def _unique(self, target: Path) -> Path:
        if not target.exists():
            return target
        for n in range(2, 10_000):
            candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
            if not candidate.exists():
                return candidate
        raise FileExistsError(target)
