"""Firmware builds described as data (`fixtures/builds/NAME.yaml`).

A build manifest says what a handset runs after it is flashed: its fingerprint and
properties, its packages, and what the bootloader reports. The harness uses it to check what
it flashed; the virtual lab uses it to behave as that firmware.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from devicelab.data import Frozen, load
from devicelab.errors import ConfigError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BUILDS_DIR = FIXTURES / "builds"

#: brand/name/device:release/id/incremental:type/tags
FINGERPRINT = re.compile(
    r"^(?P<brand>[^/:]+)/(?P<name>[^/:]+)/(?P<device>[^/:]+):(?P<release>[^/:]+)/"
    r"(?P<id>[^/:]+)/(?P<incremental>[^/:]+):(?P<type>user|userdebug|eng)/(?P<tags>[^/:]+)$"
)


class Package(Frozen):
    """An installed package: where its APK lives and the uid it runs as."""

    name: str = Field(pattern=r"^[A-Za-z][\w]*(\.[A-Za-z_][\w]*)*$")
    path: str = Field(pattern=r"^/(system|vendor|product|data)/")
    uid: int = Field(ge=1000, le=99999)
    system: bool = True
    version_code: int = 1


class Bootloader(Frozen):
    """What `fastboot getvar` reports for this build's bootloader."""

    product: str
    version_bootloader: str
    version_baseband: str
    secure: bool = True


class Build(Frozen):
    """One firmware build."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    model: str
    sku: str
    region: str
    fingerprint: str
    security_patch: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    bootloader: Bootloader
    properties: dict[str, str] = Field(default_factory=dict)
    packages: tuple[Package, ...] = ()
    #: boot time of the virtual handset, in seconds of wall time
    boot_seconds: float = Field(default=1.0, ge=0.0, le=600.0)
    description: str = ""
    #: factory image zip (relative to fixtures/builds/); without one the image is generated
    image: str | None = None

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint_shape(cls, value: str) -> str:
        if not FINGERPRINT.match(value):
            raise ValueError("expected brand/name/device:release/id/incremental:type/tags")
        return value

    @model_validator(mode="after")
    def _unique_packages(self) -> Build:
        seen: set[str] = set()
        for pkg in self.packages:
            if pkg.name in seen:
                raise ValueError(f"package {pkg.name} is listed twice")
            seen.add(pkg.name)
        return self

    @property
    def build_type(self) -> Literal["user", "userdebug", "eng"]:
        kind = self._parts()["type"]
        assert kind in ("user", "userdebug", "eng")
        return kind  # type: ignore[return-value]

    @property
    def display_id(self) -> str:
        return self._parts()["incremental"]

    def _parts(self) -> dict[str, str]:
        match = FINGERPRINT.match(self.fingerprint)
        assert match is not None  # checked by the validator
        return match.groupdict()

    def system_properties(self) -> dict[str, str]:
        """The build's `getprop` values: derived from the fingerprint, then `properties`."""
        p = self._parts()
        props = {
            "ro.build.fingerprint": self.fingerprint,
            "ro.product.brand": p["brand"],
            "ro.product.name": p["name"],
            "ro.product.device": p["device"],
            "ro.product.model": self.model,
            "ro.build.version.release": p["release"],
            "ro.build.id": p["id"],
            "ro.build.version.incremental": p["incremental"],
            "ro.build.display.id": p["incremental"],
            "ro.build.type": p["type"],
            "ro.build.tags": p["tags"],
            "ro.build.version.security_patch": self.security_patch,
            "ro.debuggable": "0" if p["type"] == "user" else "1",
            "ro.secure": "1" if p["type"] == "user" else "0",
            "ro.adb.secure": "1" if p["type"] == "user" else "0",
            "ro.bootloader": self.bootloader.version_bootloader,
            "gsm.version.baseband": self.bootloader.version_baseband,
        }
        props.update(self.properties)
        return props


def build_path(name: str, builds_dir: Path = BUILDS_DIR) -> Path:
    return builds_dir / f"{name}.yaml"


def available_builds(builds_dir: Path = BUILDS_DIR) -> list[str]:
    return sorted(p.stem for p in builds_dir.glob("*.yaml"))


def load_build_file(path: Path) -> Build:
    build = load(Build, path)
    if build.name != path.stem:
        raise ConfigError(str(path), "name", f"is {build.name!r} but the file is named {path.stem!r}")
    return build


@cache
def load_build(name: str, builds_dir: Path = BUILDS_DIR) -> Build:
    """Load a build by name (a file in `fixtures/builds/`), or by path to a manifest."""
    if name.endswith((".yaml", ".yml")):
        return load_build_file(Path(name))
    path = build_path(name, builds_dir)
    if not path.exists():
        known = ", ".join(available_builds(builds_dir)) or "none"
        raise ConfigError(str(path), "", f"unknown build {name!r}; known builds: {known}")
    return load_build_file(path)
