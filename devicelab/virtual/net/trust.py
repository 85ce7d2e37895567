"""The handset's TLS trust: the CA files in its system store, as Android 9 apps see them.

Apps targeting API 24+ trust only /system/etc/security/cacerts; a CA the user added
(/data/misc/user/0/cacerts-added) is ignored. A pinning app also checks the server key.
"""

from __future__ import annotations

import hashlib
import ssl

from devicelab.model.builds import Build
from devicelab.virtual.fs import FsError, VirtualFS
from devicelab.virtual.net import pki

SYSTEM_STORE = "/system/etc/security/cacerts"
USER_STORE = "/data/misc/user/0/cacerts-added"


def system_store_pems(fs: VirtualFS) -> list[bytes]:
    """Every readable certificate in the system store, in file-name order."""
    try:
        entries = fs.listdir(SYSTEM_STORE)
    except FsError:
        return []
    pems: list[bytes] = []
    for name, node in entries:
        if node.is_dir:
            continue
        try:
            pems.extend(pki.pem_certificates(fs.read(f"{SYSTEM_STORE}/{name}")))
        except FsError:
            continue
    return pems


def install_system_ca(fs: VirtualFS, cert_pem: bytes) -> str:
    """Put a CA into the system store as a firmware image carries it; returns the file path."""
    cert = pki.load_cert(cert_pem)
    path = f"{SYSTEM_STORE}/{pki.android_store_name(cert)}"
    fs.mkdirs(SYSTEM_STORE)
    fs.write(path, pki.android_store_file(cert_pem), mode=0o644)
    return path


def bake_cas(build: Build, fs: VirtualFS) -> None:
    """The CAs an OEM baked into a lab build's system store: `lab` is the lab's own capture CA."""
    if "lab" in build.access.system_cas:
        from devicelab.capture.ca import lab_ca_cert  # made on first use, under the state folder

        install_system_ca(fs, lab_ca_cert())


class TrustStore:
    """Client TLS contexts built from the handset's system store, rebuilt when the store changes."""

    def __init__(self, fs: VirtualFS) -> None:
        self.fs = fs
        self._key = b""
        self._context: ssl.SSLContext | None = None

    def context(self, *, check_hostname: bool = True) -> ssl.SSLContext:
        """`check_hostname=False`: a client that checks only the chain (one that lies in its SNI)."""
        pems = system_store_pems(self.fs)
        if not check_hostname:
            return client_context(pems, check_hostname=False)
        key = hashlib.sha256(b"".join(pems)).digest()
        if self._context is None or key != self._key:
            self._context, self._key = client_context(pems), key
        return self._context


def client_context(pems: list[bytes], *, check_hostname: bool = True) -> ssl.SSLContext:
    """Verifying TLS client context trusting exactly `pems` (no host or certifi roots)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    if pems:
        context.load_verify_locations(cadata=b"".join(pems).decode("ascii"))
    return context
