"""The devicelab pytest plugin (registered through the `pytest11` entry point)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devicelab")
    group.addoption("--lab", default=None, help="Lab inventory (fixtures/lab/*.yaml); default: the virtual lab.")
    group.addoption("--build", default=None, help="Build under test (a name in fixtures/builds/).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "handset(**tags): lease a handset whose inventory tags match")
