from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devicelab.testing.capture import configure
from tests.capture.fake_handset import FakeHandset, Paths, patch_paths
from tests.capture.helpers import ThrowawayPKI, Upstream, make_pki, upstream


def pytest_configure(config: pytest.Config) -> None:
    configure(config)  # until devicelab.testing.plugin calls it (see the capture report)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayPKI:
    """A throw-away CA and a certificate for upstream.lab.test (the lab's HTTPS server)."""
    return make_pki(tmp_path_factory.mktemp("pki"), ("upstream.lab.test", "zzhc.vnet.cn"))


@pytest.fixture
def http_upstream() -> Iterator[Upstream]:
    with upstream() as server:
        yield server


@pytest.fixture
def https_upstream(pki: ThrowawayPKI) -> Iterator[Upstream]:
    with upstream(pki) as server:
        yield server


@pytest.fixture
def fake_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: ThrowawayPKI) -> Paths:
    return patch_paths(tmp_path / "handset", monkeypatch, pki.ca_file.read_bytes())


@pytest.fixture
def fake_handset(fake_paths: Paths) -> Iterator[FakeHandset]:
    handset = FakeHandset(fake_paths)
    yield handset
    handset.wait_idle()
