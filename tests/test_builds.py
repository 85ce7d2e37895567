from __future__ import annotations

from pathlib import Path

import pytest

from devicelab.errors import ConfigError
from devicelab.model.builds import available_builds, load_build, load_build_file
from devicelab.model.sims import available_sims, load_sim

CASE_BUILDS = ["nokia7plus-00WW_3_22C", "nokia7plus-00WW_3_22C_SP05", "nokia7plus-00CN_3_340"]


@pytest.mark.parametrize("name", CASE_BUILDS)
def test_case_builds_ship_with_real_fingerprint_shapes(name: str) -> None:
    build = load_build(name)
    props = build.system_properties()
    assert props["ro.build.fingerprint"] == build.fingerprint
    assert props["ro.build.id"] == "PPR1.180610.011"  # Android 9 builds of the B2N
    assert props["ro.build.display.id"] in name
    assert props["ro.product.model"] == "Nokia 7 plus"


def test_only_the_leaky_global_build_carries_the_china_client() -> None:
    def has_client(name: str) -> bool:
        return any(p.name == "com.qualcomm.qti.autoregistration" for p in load_build(name).packages)

    assert has_client("nokia7plus-00WW_3_22C")
    assert not has_client("nokia7plus-00WW_3_22C_SP05")
    assert has_client("nokia7plus-00CN_3_340")


def test_china_build_uses_the_real_dump_values() -> None:
    props = load_build("nokia7plus-00CN_3_340").system_properties()
    assert props["ro.product.name"] == "Onyx_00CN"
    assert props["ro.product.device"] == "B2N"
    assert props["ro.build.date"] == "Fri Oct 19 02:10:47 CST 2018"


def test_every_shipped_build_and_sim_loads() -> None:
    assert set(CASE_BUILDS) <= set(available_builds())
    for name in available_builds():
        load_build(name)
    for name in available_sims():
        load_sim(name)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_broken_manifest_names_file_and_field(tmp_path: Path) -> None:
    good = Path(__file__).parent.parent / "fixtures/builds/nokia7plus-00WW_3_22C.yaml"
    text = good.read_text().replace("name: nokia7plus-00WW_3_22C\n", "name: broken\n")
    text = text.replace(":user/release-keys", "-user-release-keys")
    path = _write(tmp_path, "broken", text)
    with pytest.raises(ConfigError) as info:
        load_build_file(path)
    assert info.value.path == str(path)
    assert info.value.field == "fingerprint"
    assert "brand/name/device" in str(info.value)


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("name: x\nmodel: [unclosed\n", "line", "invalid YAML"),
        ("- just\n- a list\n", "(top level)", "valid dictionary"),
        ("name: x\n", "model", "required field is missing"),
    ],
)
def test_bad_yaml_gets_one_clear_message(tmp_path: Path, text: str, field: str, problem: str) -> None:
    path = _write(tmp_path, "x", text)
    with pytest.raises(ConfigError) as info:
        load_build_file(path)
    assert field in info.value.field
    assert problem in str(info.value)


def test_unknown_build_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"known builds: .*nokia7plus-00WW_3_22C"):
        load_build("nokia9-nope")


def test_every_hostile_build_loads_and_differs_from_the_leaky_one_in_one_client() -> None:
    leaky = load_build("nokia7plus-00WW_3_22C")
    hostile = sorted((Path(__file__).parent.parent / "fixtures/builds/hostile").glob("*.yaml"))
    assert hostile
    for path in hostile:
        build = load_build_file(path)
        changed = [app.name for app, orig in zip(build.traffic, leaky.traffic, strict=True) if app != orig]
        assert len(changed) == 1, (path.name, changed)


def test_a_tls_server_name_needs_an_https_client(tmp_path: Path) -> None:
    good = Path(__file__).parent.parent / "fixtures/builds/nokia7plus-00WW_3_22C.yaml"
    text = good.read_text().replace("name: nokia7plus-00WW_3_22C\n", "name: spoof\n")
    text = text.replace("    url: http://zzhc.vnet.cn/\n", "    url: http://zzhc.vnet.cn/\n    sni: www.google.com\n")
    with pytest.raises(ConfigError, match="sni"):
        load_build_file(_write(tmp_path, "spoof", text))


def test_a_retail_build_bakes_nothing(tmp_path: Path) -> None:
    from devicelab.model.builds import BUILDS_DIR

    text = (BUILDS_DIR / "nokia7plus-00WW_3_22C-retail.yaml").read_text()
    bad = tmp_path / "nokia7plus-00WW_3_22C-retail.yaml"
    bad.write_text(text.replace("  kind: retail\n", "  kind: retail\n  adb_keys: [lab]\n"))
    with pytest.raises(ConfigError, match="access"):
        load_build_file(bad)


def test_the_builds_a_lab_uses() -> None:
    retail = load_build("nokia7plus-00WW_3_22C-retail")
    assert (retail.kind, retail.bootloader.locked, retail.access.adb_at_boot) == ("user", True, False)
    for name in ("nokia7plus-00WW_3_22C", "nokia7plus-00WW_3_22C_SP05"):
        lab = load_build(name)
        assert (lab.kind, lab.access.adb_keys, lab.access.system_cas, lab.bootloader.locked) == (
            "lab", ("lab",), ("lab",), False)
        assert lab.system_properties()["ro.adb.secure"] == "1"
    userdebug = load_build("nokia7plus-00WW_3_22C-userdebug")
    assert userdebug.system_properties()["ro.debuggable"] == "1"
    assert userdebug.access.system_cas == ()


def test_every_shipped_build_but_the_retail_one_is_a_lab_build_the_gate_drives() -> None:
    """A build file without `access:` is retail (adb off after the wipe): the gate refuses it in
    seconds. Every example build is a lab build, so that the gate can drive it; only -retail is not."""
    from devicelab.lab.preflight import refuse_build

    for name in available_builds():
        build = load_build(name)
        if name.endswith("-retail"):
            with pytest.raises(Exception, match="retail"):
                refuse_build(build)
        else:
            refuse_build(build)  # raises for a retail build
            assert build.access.kind == "lab", name
