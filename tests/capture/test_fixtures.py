"""The `capture` pytest fixture in a real pytest run (a subprocess) on the fake handset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from devicelab.testing.capture import RAW

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = '''
import pytest

from devicelab.model.inventory import ProxySpec
from devicelab.testing.capture import capture, capture_upstream, configure  # noqa: F401
from tests.capture.fake_handset import FakeHandset, patch_paths
from tests.capture.helpers import make_pki


def pytest_configure(config):
    configure(config)


@pytest.fixture
def handset(tmp_path, monkeypatch):
    pki = make_pki(tmp_path / "pki")
    fake = FakeHandset(patch_paths(tmp_path / "handset", monkeypatch, pki.ca_file.read_bytes()))
    yield fake
    fake.wait_idle()


@pytest.fixture(scope="session")
def capture_settings():
    return ProxySpec(canary_timeout=5, sample_interval=0.05)
'''

TESTS = '''
import http.client

import pytest


@pytest.mark.capture(sinkhole=["zzhc.vnet.cn"])
def test_leak_is_seen(capture, handset):
    assert capture.canary.ok
    assert handset.setting("http_proxy") is not None
    conn = http.client.HTTPConnection(*capture.capture.dial_address, timeout=5)
    conn.request("POST", "http://zzhc.vnet.cn/", body=b"IMEI1=356938035643809")
    assert conn.getresponse().status == 200
    conn.close()
    assert [f.host for f in capture.flows()] == ["zzhc.vnet.cn"]


def test_failing_test_is_torn_down(capture, handset):
    pytest.fail("the product leaked")


@pytest.mark.capture(sinkhole="zzhc.vnet.cn")
def test_bad_marker(capture):
    pass
'''


def test_capture_fixture_sets_up_tears_down_and_attaches_evidence(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (suite / "test_with_capture.py").write_text(textwrap.dedent(TESTS))
    allure_dir = tmp_path / "allure"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(suite), str(suite),
         "-p", "no:xdist", f"--alluredir={allure_dir}", "-q", "--basetemp", str(tmp_path / "base")],
        cwd=suite, env=env, capture_output=True, text=True, timeout=120,
    )
    out = done.stdout + done.stderr
    assert "1 failed, 1 passed, 1 error" in out, out
    assert "the product leaked" in out
    assert "capture marker: sinkhole: expected a list of host globs" in out
    by_name = {r["name"]: r["uuid"] for r in map(_json, allure_dir.glob("*-result.json"))}
    containers = [_json(p) for p in allure_dir.glob("*-container.json")]
    for name in ("test_leak_is_seen", "test_failing_test_is_torn_down"):
        # fixture teardown attachments live in the test's containers ("afters")
        names = {a["name"] for c in containers if by_name[name] in c.get("children", [])
                 for after in c.get("afters", []) for a in after.get("attachments", [])}
        wanted = {f"capture evidence (JSON Lines) {RAW}", f"capture (HAR export) {RAW}", "capture summary"}
        assert wanted <= names, names
    attachments = [p.read_bytes() for p in allure_dir.iterdir() if "-attachment" in p.name]
    assert any(b"zzhc.vnet.cn" in a for a in attachments)
    assert not any(b"PRIVATE KEY" in a for a in attachments)  # the CA key never leaves its confdir
    # every handset was left clean: no proxy setting anywhere
    assert not list((tmp_path / "base").glob("*/handset/settings/http_proxy"))


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
