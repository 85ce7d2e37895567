"""Signed full OTA packages of virtual builds, and how recovery checks one before installing it.

The layout is an A/B full OTA's: `META-INF/com/android/metadata` (ota-type, pre-device,
post-build, post-timestamp), `payload.bin` and `payload_properties.txt`, and the whole-file
signature of `signapk -w` in the zip comment: the signed bytes are the file up to the comment's
length field, and the comment ends with a 6-byte footer (u16 signature start counted from the
end, 0xffff, u16 comment size). VIRTUAL: the signature block is a DER ECDSA P-256/SHA-256
signature instead of PKCS#7 SignedData, and payload.bin holds the system image, not
update_engine's delta format. Keys are derived from their name: the virtual OEM's signing keys.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from devicelab.model.builds import Build
from devicelab.virtual import image

METADATA = "META-INF/com/android/metadata"
FOOTER_SIZE = 6
#: recovery's error code for a package that fails verification (recovery's error_code.h)
ZIP_VERIFICATION_FAILURE = 21


class PackageRefused(Exception):
    """Recovery will not install the package; the message is recovery's own log line(s)."""


def signing_key(name: str) -> ec.EllipticCurvePrivateKey:
    """The virtual OEM's key `name` (release-keys, test-keys, ...), the same in every process."""
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256's group order
    secret = int.from_bytes(hashlib.sha256(f"devicelab virtual OEM key {name}".encode()).digest(), "big")
    return ec.derive_private_key(secret % (order - 1) + 1, ec.SECP256R1())


def metadata(build: Build) -> dict[str, str]:
    props = build.system_properties()
    return {
        "ota-type": "AB",
        "pre-device": props["ro.product.device"],
        "post-build": build.fingerprint,
        "post-build-incremental": props["ro.build.version.incremental"],
        "post-sdk-level": props.get("ro.build.version.sdk", ""),
        "post-security-patch-level": build.security_patch,
        "post-timestamp": str(build.build_date_utc),
    }


def unsigned_package(build: Build) -> bytes:
    payload = image.system_image(build)
    digest = base64.b64encode(hashlib.sha256(payload).digest()).decode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(METADATA, "".join(f"{k}={v}\n" for k, v in metadata(build).items()))
        archive.writestr("payload.bin", payload)
        archive.writestr("payload_properties.txt", f"FILE_HASH={digest}\nFILE_SIZE={len(payload)}\n")
    return buffer.getvalue()


def sign(package: bytes, key_name: str) -> bytes:
    """`signapk -w`: replace the (empty) zip comment with signature + footer."""
    if package[-2:] != b"\0\0":
        raise ValueError("the package already has a zip comment")
    signed_part = package[:-2]  # everything before the comment length field
    signature = signing_key(key_name).sign(signed_part, ec.ECDSA(hashes.SHA256()))
    comment_size = len(signature) + FOOTER_SIZE
    footer = struct.pack("<HHH", comment_size, 0xFFFF, comment_size)
    return signed_part + struct.pack("<H", comment_size) + signature + footer


def write_ota_package(build: Build, output: Path, *, key: str | None = None) -> Path:
    """The build's full OTA, signed with `key` (default: the key its own recovery trusts)."""
    package = sign(unsigned_package(build), key or build.ota_key)

    def write(tmp: Path) -> None:
        tmp.write_bytes(package)

    return image.write_atomically(output, "the OTA package", write)


def verify_signature(package: bytes, trusted: list[str]) -> None:
    """recovery's verify_file: the footer, the comment, then each trusted key in turn."""
    if len(package) < FOOTER_SIZE + 22:
        raise PackageRefused("E:not big enough for footer\nE:Signature verification failed")
    start, magic, comment_size = struct.unpack("<HHH", package[-FOOTER_SIZE:])
    if magic != 0xFFFF:
        raise PackageRefused("E:footer is wrong\nE:Signature verification failed")
    if start > comment_size or comment_size + 2 > len(package):
        raise PackageRefused("E:signature start is past the comment\nE:Signature verification failed")
    if struct.unpack("<H", package[-comment_size - 2 : -comment_size])[0] != comment_size:
        raise PackageRefused("E:comment size is wrong\nE:Signature verification failed")
    signed_part = package[: -comment_size - 2]
    signature = package[-start : -FOOTER_SIZE]
    failed = ""
    for index, name in enumerate(trusted):
        try:
            signing_key(name).public_key().verify(signature, signed_part, ec.ECDSA(hashes.SHA256()))
            return
        except InvalidSignature:
            failed = f"E:failed to verify against EC key {index}"
    raise PackageRefused(f"{failed}\nE:Signature verification failed" if trusted else
                         "E:Signature verification failed")


@dataclass(frozen=True)
class Verified:
    """A package recovery will install: the build its payload holds."""

    build: Build
    metadata: dict[str, str]


def check_package(package: bytes, running: Build) -> Verified:
    """What recovery checks before it installs (the running build's keys, product, no downgrade)."""
    try:
        verify_signature(package, [running.ota_key])
    except PackageRefused as exc:
        raise PackageRefused(f"{exc}\nE:error: {ZIP_VERIFICATION_FAILURE}") from None
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            meta = dict(line.split("=", 1) for line in archive.read(METADATA).decode().splitlines() if "=" in line)
            payload = archive.read("payload.bin")
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        raise PackageRefused(f"E:Can't open the package: {exc}\nE:error: 22") from None
    props = running.system_properties()
    if meta.get("ota-type") != "AB":
        raise PackageRefused("E:Package is not A/B but the device is (ro.build.ab_update=true)")
    device = props["ro.product.device"]
    if meta.get("pre-device") != device:
        raise PackageRefused(f"E:Package is for product {meta.get('pre-device', '')} but expected {device}")
    stamp = meta.get("post-timestamp", "")
    if not stamp.isdigit() or int(stamp) < running.build_date_utc:
        raise PackageRefused(
            "E:Update package is older than the current build, expected a build newer than timestamp "
            f"{running.build_date_utc} but package has timestamp {stamp} and downgrade not allowed.")
    try:
        build = image.read_system_image(payload)
    except image.ImageError as exc:
        raise PackageRefused(f"E:Error in update_engine: payload is corrupt ({exc})") from None
    return Verified(build, meta)
