"""Partition images and factory zips of virtual builds, and `devicelab virtual build-image`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devicelab.errors import DevicelabError
from devicelab.model.builds import load_build
from devicelab.virtual import image
from devicelab.virtual.fastboot import sparse

BUILD = load_build("nokia7plus-00CN_3_340")
DEVICELAB = [sys.executable, "-m", "devicelab"]


def test_system_image_carries_its_build_and_is_block_aligned() -> None:
    data = image.system_image(BUILD)
    assert len(data) % image.BLOCK == 0
    assert image.read_system_image(data) == BUILD


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no devicelab header"),
        (b"\0" * 4096, "no devicelab header"),
        (image.MAGIC + b"\x10", "truncated"),
        (image.MAGIC + b"\xff\0\0\0{}", "truncated"),
        (image.MAGIC + b"\x02\0\0\0{}", "manifest is corrupt"),
    ],
    ids=["erased", "zeros", "short-header", "short-payload", "bad-manifest"],
)
def test_images_that_would_not_boot_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(image.ImageError, match=reason):
        image.read_system_image(data)


def test_android_info_requires_only_the_board() -> None:
    assert image.android_info(BUILD) == "require board=B2N\n"


def test_factory_zip_holds_what_fastboot_update_flashes(tmp_path: Path) -> None:
    out = image.write_factory_zip(BUILD, tmp_path / "sub" / "cn.zip")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        system = zf.read("system.img")
        boot = zf.read("boot.img")
    assert names == {"android-info.txt", "boot.img", "dtbo.img", "vbmeta.img", "system.img", "vendor.img"}
    assert sparse.is_sparse(system)
    assert image.read_system_image(bytes(sparse.apply(system, b"", 1 << 30))) == BUILD
    assert len(boot) % image.BLOCK == 0
    assert not (tmp_path / "sub" / "cn.zip.part").exists()


def test_unwritable_output_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DevicelabError, match="cannot write the factory image"):
        image.write_factory_zip(BUILD, blocker / "out.zip")


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DEVICELAB, *args], capture_output=True, text=True, timeout=60, check=False)


def test_build_image_cli_writes_a_zip(tmp_path: Path) -> None:
    manifest = Path(__file__).resolve().parents[2] / "fixtures" / "builds" / f"{BUILD.name}.yaml"
    proc = _run_cli("virtual", "build-image", str(manifest), "-o", str(tmp_path / "cn.zip"))
    assert proc.returncode == 0, proc.stderr
    assert BUILD.fingerprint in proc.stdout
    assert zipfile.is_zipfile(tmp_path / "cn.zip")


def test_build_image_cli_names_the_file_and_field_of_a_broken_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(
        "name: broken\nmodel: Nokia 7 plus\nsku: 00WW\nregion: WW\n"
        "fingerprint: Nokia/Onyx_00WW/B2N_sprout:9/PPR1.180610.011/00WW_3_22C:user/release-keys\n"
        "security_patch: yesterday\n"
        "bootloader: {product: B2N, version_bootloader: B2N-0WW-0-00WW-B03, version_baseband: X}\n"
    )
    proc = _run_cli("virtual", "build-image", str(manifest), "-o", str(tmp_path / "out.zip"))
    assert proc.returncode == 3
    assert str(manifest) in proc.stderr
    assert "security_patch" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.zip").exists()


def test_build_image_cli_reports_an_unwritable_output_without_traceback(tmp_path: Path) -> None:
    manifest = Path(__file__).resolve().parents[2] / "fixtures" / "builds" / f"{BUILD.name}.yaml"
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = _run_cli("virtual", "build-image", str(manifest), "-o", str(blocker / "out.zip"))
    assert proc.returncode == 3
    assert "cannot write the factory image" in proc.stderr
    assert "Traceback" not in proc.stderr
