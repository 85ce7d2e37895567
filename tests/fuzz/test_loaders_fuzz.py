"""Every YAML loader, fed random documents and random bytes: a ConfigError or a loaded model,
never another exception (a traceback is a crash as far as the user is concerned)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devicelab.errors import ConfigError
from devicelab.flows.model import load_flow_file
from devicelab.model.builds import load_build_file
from devicelab.model.identity import load_identity
from devicelab.model.inventory import load_inventory
from devicelab.model.policy import load_policy
from devicelab.model.sims import load_sim
from devicelab.repro.model import load_report


def _sim(path: Path) -> object:
    return load_sim(path.stem, path.parent)


LOADERS: dict[str, Callable[[Path], object]] = {
    "inventory": load_inventory, "policy": load_policy, "build manifest": load_build_file,
    "repro report": load_report, "identity": load_identity, "flow": load_flow_file, "sim": _sim,
}
# keys the loaders know, so random documents get past the first "unknown field" now and then
KEYS = st.sampled_from(["name", "handsets", "provider", "approved", "host", "may_receive", "skus", "imei", "build",
                        "fingerprint", "steps", "id", "serialno", "sim", "timeouts", "bootloader", "packages",
                        "kind", "options", "tls_required", "mcc", "iccid", "trigger"]) | st.text(max_size=8)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                      max_leaves=20)
DOCS = st.one_of(
    VALUES.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.text(max_size=200),
    st.sampled_from(["a: [1, 2", "- !!python/object:os.system {}", "{a: *nope}", "a: b\n\tc: d", "x: 1\nx: 2",
                     "%YAML 9.9\n---\na: 1", "!!binary |\n  !!!", "? [a, b]\n: c", ""]),
)


def _check(load: Callable[[Path], object], text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        problem = ""
        try:
            load(path)
        except ConfigError as exc:
            problem = str(exc) or "(empty message)"
        assert problem != "(empty message)", "a ConfigError must say what is wrong"


@pytest.mark.parametrize("what", sorted(LOADERS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=DOCS)
def test_random_yaml_is_a_config_error_never_a_crash(what: str, doc: str) -> None:
    _check(LOADERS[what], doc)


@pytest.mark.parametrize("what", sorted(LOADERS))
@settings(max_examples=15, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_are_a_config_error_never_a_crash(what: str, data: bytes) -> None:
    _check(LOADERS[what], data)


@pytest.mark.parametrize("what", sorted(LOADERS))
def test_a_python_object_tag_is_refused_not_run(what: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "input.yaml"
    path.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError) as caught:
        LOADERS[what](path)
    assert "input.yaml" in str(caught.value)
    assert not marker.exists()
