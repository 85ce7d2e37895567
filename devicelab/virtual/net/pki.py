"""The virtual internet's public key infrastructure: one root CA (a "public root" every virtual
handset ships in its system store, as real handsets ship DigiCert or GlobalSign) and a leaf
certificate per host, plus the few certificate facts Android itself computes."""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL)
ROOT_NAME = "Virtual Internet Root CA"


@dataclass(frozen=True)
class Credential:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_root_ca(common_name: str = ROOT_NAME) -> tuple[Credential, ec.EllipticCurvePrivateKey]:
    """A self-signed root CA (EC P-256: fast to make, accepted by every TLS stack here)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Virtual Internet Trust Services"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(days=365))
        .not_valid_after(_now() + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Credential(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)), key


def make_leaf(
    host: str, ca: Credential, ca_key: ec.EllipticCurvePrivateKey, aliases: tuple[str, ...] = (),
) -> Credential:
    """A server certificate for `host` (and its aliases) signed by the root."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = ca.cert
    public = key.public_key()
    names = [x509.DNSName(n) for n in dict.fromkeys((host, *aliases))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(days=30))
        .not_valid_after(_now() + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Credential(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def subject_hash_old(cert: x509.Certificate) -> str:
    """OpenSSL's `-subject_hash_old` (MD5 of the DER subject): the file name Android gives a
    CA in /system/etc/security/cacerts (`<hash>.0`)."""
    digest = hashlib.md5(cert.subject.public_bytes(), usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def android_store_name(cert: x509.Certificate) -> str:
    return subject_hash_old(cert) + ".0"


def spki_pin(cert: x509.Certificate) -> str:
    """The SPKI pin of a certificate as OkHttp's CertificatePinner writes it: `sha256/<base64>`."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def spki_pin_of_der(der: bytes) -> str:
    return spki_pin(x509.load_der_x509_certificate(der))


def android_store_file(cert_pem: bytes) -> bytes:
    """What a file in Android's CA store holds: the PEM block, then its fingerprint line."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    sha1 = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 (a label, as in Android's files)
    pairs = ":".join(sha1[i : i + 2] for i in range(0, len(sha1), 2))
    return cert_pem.rstrip(b"\n") + b"\n" + f"SHA1 Fingerprint={pairs}\n".encode()


def pem_certificates(data: bytes) -> list[bytes]:
    """Every PEM certificate block in a file that parses (a broken block is skipped, as Android's
    TrustedCertificateStore skips unreadable files)."""
    found = []
    for block in PEM_BLOCK.findall(data):
        try:
            x509.load_pem_x509_certificate(block)
        except ValueError:
            continue
        found.append(block + b"\n")
    return found


def load_cert(cert_pem: bytes) -> x509.Certificate:
    """Parse one PEM certificate; ValueError when it is none."""
    return x509.load_pem_x509_certificate(cert_pem)
