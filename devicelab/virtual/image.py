"""Partition images of virtual builds.

The system image of a virtual build carries the build manifest itself, so a handset that was
flashed with it boots as that build: `getprop ro.build.fingerprint` reports what was flashed.
Layout: MAGIC, u32 length (LE), the manifest as JSON, zero padding to a 4096-byte boundary
(fastboot wants raw images block-aligned).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path

from pydantic import ValidationError

from devicelab.builds import Build

MAGIC = b"DEVICELAB-SYSIMG1"
BLOCK = 4096


class ImageError(Exception):
    """A partition image is not a bootable virtual image."""


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def system_image(build: Build) -> bytes:
    payload = json.dumps(build.model_dump(mode="json"), sort_keys=True).encode()
    return _pad(MAGIC + struct.pack("<I", len(payload)) + payload)


def read_system_image(data: bytes) -> Build:
    """The build a system image holds, or ImageError saying why it would not boot."""
    if not data.startswith(MAGIC):
        raise ImageError("system image has no devicelab header (erased or foreign image)")
    header_end = len(MAGIC) + 4
    if len(data) < header_end:
        raise ImageError("system image is truncated")
    (length,) = struct.unpack_from("<I", data, len(MAGIC))
    payload = data[header_end : header_end + length]
    if len(payload) != length:
        raise ImageError("system image is truncated")
    try:
        return Build.model_validate(json.loads(payload))
    except (ValueError, ValidationError) as exc:
        raise ImageError(f"system image manifest is corrupt: {exc}") from None


def small_image(build: Build, partition: str) -> bytes:
    """A block-sized image for a partition other than system (boot, vendor, vbmeta, dtbo)."""
    digest = hashlib.sha256(f"{build.fingerprint}/{partition}".encode()).hexdigest().encode()
    return _pad(f"DEVICELAB-{partition.upper()}\n".encode() + digest + b"\n")


#: Images in a factory zip, in the names `fastboot update` looks for.
FACTORY_PARTITIONS = ("boot", "dtbo", "vbmeta", "system", "vendor")


def android_info(build: Build) -> str:
    """`android-info.txt`: what `fastboot update` checks against the target before flashing."""
    boot = build.bootloader
    return f"require board={boot.product}\nrequire version-bootloader={boot.version_bootloader}\n"


def write_factory_zip(build: Build, output: Path) -> Path:
    """A factory image zip that real `fastboot update` accepts."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("android-info.txt", android_info(build))
        for part in FACTORY_PARTITIONS:
            data = system_image(build) if part == "system" else small_image(build, part)
            zf.writestr(f"{part}.img", data)
    tmp.replace(output)
    return output
