"""Partition images of virtual builds.

The system image of a virtual build carries the build manifest itself, so a handset that was
flashed with it boots as that build: `getprop ro.build.fingerprint` reports what was flashed.
Layout: MAGIC, u32 length (LE), the manifest as JSON, zero padding to a 4096-byte boundary
(fastboot wants raw images block-aligned).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from devicelab.errors import DevicelabError
from devicelab.model.builds import Build
from devicelab.virtual.fastboot.sparse import to_sparse

MAGIC = b"DEVICELAB-SYSIMG1"
#: bumped whenever the factory zip layout changes (cache keys include it)
IMAGE_FORMAT = 2
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


#: Images in a factory zip, in the names `fastboot update` looks for (boot.img and system.img are
#: the two it requires).
FACTORY_PARTITIONS = ("boot", "dtbo", "vbmeta", "system", "vendor")


def android_info(build: Build) -> str:
    """`android-info.txt`: what `fastboot update` checks against the target before flashing.

    Only the board: `fastboot update` never flashes the bootloader, so requiring the build's
    `version-bootloader` would refuse every update between builds of different bootloaders
    (real factory zips rely on flash-all.sh flashing the bootloader first).
    """
    return f"require board={build.bootloader.product}\n"


def factory_images(build: Build) -> dict[str, bytes]:
    """The zip member name -> contents of a factory image. system.img is an Android sparse
    image, as in real factory images; the others are raw."""
    images = {f"{part}.img": small_image(build, part) for part in FACTORY_PARTITIONS if part != "system"}
    images["system.img"] = to_sparse(system_image(build))
    return images


def write_factory_zip(build: Build, output: Path) -> Path:
    """A factory image zip that real `fastboot update` accepts (written atomically)."""
    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("android-info.txt", android_info(build))
            for name, data in factory_images(build).items():
                zf.writestr(name, data)

    return write_atomically(output, "the factory image", write)


def write_atomically(output: Path, what: str, write: Callable[[Path], None]) -> Path:
    """`write` fills a temporary file beside `output`, which then takes its place: a reader (fastboot,
    adb sideload) never sees half a package. An OSError is one message naming the file."""
    tmp = output.with_name(output.name + ".part")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        tmp.replace(output)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise DevicelabError(f"{output}: cannot write {what}: {exc.strerror or exc}") from None
    return output
