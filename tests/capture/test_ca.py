from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from devicelab.capture.ca import create_run_ca, subject_hash_old
from devicelab.errors import CaptureError
from tests.capture.helpers import ThrowawayPKI


def test_key_file_is_private_and_certificate_public(tmp_path: Path) -> None:
    ca = create_run_ca(tmp_path / "confdir", label="FAKE0001")
    assert stat.S_IMODE(ca.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(ca.cert_file.stat().st_mode) == 0o644
    assert stat.S_IMODE(ca.confdir.stat().st_mode) == 0o700
    assert b"PRIVATE KEY" in ca.key_file.read_bytes()
    assert b"PRIVATE KEY" not in ca.cert_file.read_bytes()
    assert "FAKE0001" in ca.certificate.subject.rfc4514_string()


def test_every_run_gets_its_own_ca_and_file_name(tmp_path: Path) -> None:
    first = create_run_ca(tmp_path / "a")
    second = create_run_ca(tmp_path / "b")
    assert first.cert_pem != second.cert_pem
    assert first.android_name != second.android_name
    with pytest.raises(CaptureError, match="fresh"):
        create_run_ca(tmp_path / "a")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_subject_hash_old_matches_openssl(tmp_path: Path, pki: ThrowawayPKI) -> None:
    ca = create_run_ca(tmp_path / "confdir")
    for cert_file in (ca.cert_file, pki.ca_file, pki.cert_file):
        done = subprocess.run(["openssl", "x509", "-noout", "-subject_hash_old", "-in", str(cert_file)],
                              capture_output=True, text=True, timeout=30, check=True)
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        assert subject_hash_old(cert) == done.stdout.strip()
    assert ca.android_name == f"{ca.subject_hash_old}.0"
