"""Factory images and OTA packages for builds: the zip `fastboot update` takes, and the signed
full OTA recovery installs over `adb sideload` (locked bootloaders).

A build manifest may name either (`image:`, `ota: {package:}`, relative to the manifest); builds
without one are firmware devicelab describes itself, and theirs is generated once into the image
cache (only virtual handsets accept a generated one: lab/preflight.py says so for the others).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from devicelab.model.builds import BUILDS_DIR, Build

CACHE = Path(os.environ.get("DEVICELAB_IMAGE_CACHE", Path(__file__).resolve().parents[2] / "reports" / ".images"))


def factory_image(build: Build, builds_dir: Path = BUILDS_DIR) -> Path:
    """The factory image zip of `build`, generating it into the cache when needed."""
    if build.image is not None:
        path = Path(build.image)
        return path if path.is_absolute() else builds_dir / path
    from devicelab.virtual.image import write_factory_zip

    return _generated(build, "", lambda target: write_factory_zip(build, target))


def ota_package(build: Build, builds_dir: Path = BUILDS_DIR) -> Path:
    """The signed full OTA package of `build`, generating it into the cache when needed."""
    if build.ota.package is not None:
        path = Path(build.ota.package)
        return path if path.is_absolute() else builds_dir / path
    from devicelab.virtual.ota import write_ota_package

    return _generated(build, "-ota", lambda target: write_ota_package(build, target))


def _generated(build: Build, kind: str, write: Callable[[Path], object]) -> Path:
    from devicelab.virtual.image import IMAGE_FORMAT

    # the key covers the manifest and the image format: a generator change never reuses a stale zip
    parts: list[object] = [IMAGE_FORMAT, kind] if kind else [IMAGE_FORMAT]  # factory zips keep their old keys
    key = json.dumps([*parts, build.model_dump(mode="json")], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    target = CACHE / f"{build.name}{kind}-{digest}.zip"
    CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=120):
        if not target.exists():
            write(target)
    return target
