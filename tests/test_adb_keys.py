"""The lab's adb key and Android's key format: what the AUTH exchange of a secure adbd checks."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devicelab.adb import keys


def test_a_public_key_survives_androids_format_and_signs_as_adb_does() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    blob = keys.android_public_key(key.public_key())
    assert len(base64.b64decode(blob)) == keys.PUBKEY_SIZE
    parsed = keys.parse_android_public_key(blob + b" user@host\0")
    assert parsed.public_numbers() == key.public_key().public_numbers()
    token = os.urandom(keys.TOKEN_SIZE)
    assert keys.verifies(parsed, token, keys.sign(key, token))
    assert not keys.verifies(parsed, os.urandom(keys.TOKEN_SIZE), keys.sign(key, token))
    assert keys.fingerprint(blob).count(":") == 15


@pytest.mark.parametrize("bad", [b"", b"not base64!", base64.b64encode(b"short")])
def test_an_unusable_public_key_is_refused(bad: bytes) -> None:
    with pytest.raises(ValueError, match="adb public key"):
        keys.parse_android_public_key(bad)


def test_the_lab_key_is_made_once_and_offered_by_every_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVICELAB_STATE_DIR", str(tmp_path))
    path = keys.lab_key_path()
    assert path == tmp_path / "adb" / "adbkey"
    assert path.stat().st_mode & 0o077 == 0  # a private key, readable by us alone
    assert keys.lab_key_path().read_bytes() == path.read_bytes()
    assert path.with_suffix(".pub").read_bytes().split()[0] == keys.lab_public_key()
    env = keys.server_env({"ADB_VENDOR_KEYS": "/other/key"})
    assert env["ADB_VENDOR_KEYS"].split(os.pathsep) == ["/other/key", str(path)]
