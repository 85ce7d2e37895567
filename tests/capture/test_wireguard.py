from __future__ import annotations

import stat
from pathlib import Path

import pytest

from devicelab.capture.wireguard import client_config, mode_spec, read_keys, write_keys
from devicelab.errors import CaptureError


def test_keys_are_written_private_and_read_back(tmp_path: Path) -> None:
    keys = write_keys(tmp_path / "wireguard.conf")
    assert stat.S_IMODE((tmp_path / "wireguard.conf").stat().st_mode) == 0o600
    assert read_keys(tmp_path / "wireguard.conf") == keys
    assert keys.server_public != keys.client_public
    with pytest.raises(CaptureError, match="cannot write"):
        write_keys(tmp_path / "wireguard.conf")  # never overwrites a handset's keys


def test_client_config_names_the_real_endpoint(tmp_path: Path) -> None:
    keys = write_keys(tmp_path / "wireguard.conf")
    v4 = client_config(keys, "192.168.0.100", 51999)
    assert f"PrivateKey = {keys.client_key}" in v4
    assert f"PublicKey = {keys.server_public}" in v4
    assert "Endpoint = 192.168.0.100:51999" in v4
    assert "Endpoint = [fd00::1]:51999" in client_config(keys, "fd00::1", 51999)
    assert mode_spec(tmp_path / "wireguard.conf", "127.0.0.1") == f"wireguard:{tmp_path}/wireguard.conf@127.0.0.1:0"


@pytest.mark.parametrize("content", ["", "{}", '{"server_key": "x", "client_key": "y"}'])
def test_unusable_key_file_is_one_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "wireguard.conf").write_text(content)
    with pytest.raises(CaptureError, match="unusable WireGuard key file"):
        read_keys(tmp_path / "wireguard.conf")
