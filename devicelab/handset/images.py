"""Factory images for builds: where the zip that `fastboot update` takes comes from.

A build manifest may name a factory image zip (`image:`, relative to the manifest); builds
without one are firmware devicelab describes itself, and their image is generated once into the
image cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from filelock import FileLock

from devicelab.model.builds import BUILDS_DIR, Build

CACHE = Path(os.environ.get("DEVICELAB_IMAGE_CACHE", Path(__file__).resolve().parents[2] / "reports" / ".images"))


def factory_image(build: Build, builds_dir: Path = BUILDS_DIR) -> Path:
    """The factory image zip of `build`, generating it into the cache when needed."""
    if build.image is not None:
        path = Path(build.image)
        return path if path.is_absolute() else builds_dir / path
    from devicelab.virtual.image import IMAGE_FORMAT, write_factory_zip

    # the key covers the manifest and the image format: a generator change never reuses a stale zip
    key = json.dumps([IMAGE_FORMAT, build.model_dump(mode="json")], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    target = CACHE / f"{build.name}-{digest}.zip"
    CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=120):
        if not target.exists():
            write_factory_zip(build, target)
    return target
