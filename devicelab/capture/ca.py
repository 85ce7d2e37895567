"""The run's certificate authority: fresh for every capture, its private key readable by us alone.

mitmproxy signs the certificates it shows the handset with this CA; the handset trusts it once the
certificate sits in the system store under OpenSSL's old subject hash (`<hash>.0`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from mitmproxy import certs

from devicelab.adb.keys import state_dir
from devicelab.errors import CaptureError

#: mitmproxy looks for `<basename>-ca.pem` (key + certificate) in its confdir.
BASENAME = "mitmproxy"
KEY_SIZE = 2048


@dataclass(frozen=True)
class RunCA:
    """A CA made for one capture: where mitmproxy finds it, and its public certificate."""

    confdir: Path
    key_file: Path  # private key + certificate: mode 0600, never copied into a report
    cert_file: Path  # public certificate (PEM): what the handset installs
    cert_pem: bytes
    subject_hash_old: str

    @property
    def android_name(self) -> str:
        """The file name Android's system store expects (`<subject_hash_old>.0`)."""
        return f"{self.subject_hash_old}.0"

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def subject_hash_old(cert: x509.Certificate) -> str:
    """OpenSSL's `x509 -subject_hash_old`: MD5 of the DER subject, first 4 bytes little-endian, as hex."""
    digest = hashlib.md5(cert.subject.public_bytes()).digest()  # noqa: S324 - a file name, not security
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def create_run_ca(confdir: Path, *, label: str = "") -> RunCA:
    """Write a new CA into `confdir` (which must not hold one yet); the subject names this run."""
    key_file = confdir / f"{BASENAME}-ca.pem"
    cert_file = confdir / f"{BASENAME}-ca-cert.pem"
    if key_file.exists():
        raise CaptureError(f"{confdir} already holds a CA: every capture needs a fresh one")
    # A distinct subject per run: a CA left on a handset by a crashed run never shares our file name.
    name = f"devicelab capture {label + ' ' if label else ''}{secrets.token_hex(4)}"
    key, cert = certs.create_ca(organization="devicelab", cn=name[:64], key_size=KEY_SIZE)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    try:
        confdir.mkdir(parents=True, exist_ok=True)
        os.chmod(confdir, 0o700)
        _write(key_file, key_pem + cert_pem, 0o600)
        _write(cert_file, cert_pem, 0o644)
    except OSError as exc:
        raise CaptureError(f"cannot write the run's CA into {confdir}: {exc}") from None
    return RunCA(confdir, key_file, cert_file, cert_pem, subject_hash_old(cert))


# -- the lab's own CA ---------------------------------------------------------------------------------
def lab_ca_dir() -> Path:
    """Where the lab's CA lives: made once, kept; a lab build bakes its certificate into /system."""
    return state_dir() / "lab-ca"


def lab_ca_cert() -> bytes:
    """The lab CA's certificate (PEM), made on first use: what a lab build's system store holds."""
    folder = lab_ca_dir()
    cert_file = folder / f"{BASENAME}-ca-cert.pem"
    if not cert_file.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".lab-ca-", dir=folder.parent))
        create_run_ca(staging / "ca", label="lab CA")
        try:
            os.rename(staging / "ca", folder)  # of two processes making it at once, the first one wins
        except OSError:
            if not cert_file.exists():
                raise CaptureError(f"cannot keep the lab's CA in {folder}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return cert_file.read_bytes()


def lab_run_ca(confdir: Path) -> RunCA:
    """The lab's CA, copied into a capture's confdir (the copy goes with the capture)."""
    cert_pem = lab_ca_cert()
    key_pem = (lab_ca_dir() / f"{BASENAME}-ca.pem").read_bytes()
    key_file, cert_file = confdir / f"{BASENAME}-ca.pem", confdir / f"{BASENAME}-ca-cert.pem"
    try:
        confdir.mkdir(parents=True, exist_ok=True)
        os.chmod(confdir, 0o700)
        _write(key_file, key_pem, 0o600)
        _write(cert_file, cert_pem, 0o644)
    except OSError as exc:
        raise CaptureError(f"cannot copy the lab's CA into {confdir}: {exc}") from None
    cert = x509.load_pem_x509_certificate(cert_pem)
    return RunCA(confdir, key_file, cert_file, cert_pem, subject_hash_old(cert))


def _write(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL + the mode at creation: the key is never readable by others, not even for a moment
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have removed bits we want (0644 for the certificate)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
