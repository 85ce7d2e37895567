"""adb host keys: the lab's own key, Android's public-key format, and AUTH signatures.

A secure adbd (`ro.adb.secure=1`) lets a host in only when it signs a token with a key the handset
knows: one the user accepted on the "Allow USB debugging?" prompt, or one baked into the build
(`/adb_keys`, what an OEM does for its QA lab). The lab's key lives under the state folder; every
adb server devicelab starts offers it through `ADB_VENDOR_KEYS`, and a lab build bakes its public
half (`adbkey.pub`, Android's format) in.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import struct
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from devicelab.errors import ConfigError

KEY_BITS = 2048
WORDS = KEY_BITS // 32
#: Android's RSAPublicKey struct (mincrypt): len, n0inv, n[64], rr[64], exponent
PUBKEY_SIZE = 4 + 4 + 4 * WORDS + 4 * WORDS + 4
TOKEN_SIZE = 20
ENV = "ADB_VENDOR_KEYS"


def state_dir() -> Path:
    """DEVICELAB_STATE_DIR, or a private folder in the system's temp folder."""
    return Path(os.environ.get("DEVICELAB_STATE_DIR") or Path(tempfile.gettempdir()) / f"devicelab-{os.getuid()}")


def lab_key_path() -> Path:
    """The lab's adb private key (PKCS#8 PEM, as adb writes `~/.android/adbkey`), made on first use."""
    path = state_dir() / "adb" / "adbkey"
    if not path.exists():
        _create_key(path)
    return path


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    pub = android_public_key(key.public_key()) + b" devicelab@lab\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".adbkey-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        # link, not rename: of two processes making the key at once, the first one wins for both
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
            Path(str(path) + ".pub").write_bytes(pub)
    finally:
        os.unlink(tmp)


def lab_public_key() -> bytes:
    """The lab key's public half in Android's format (base64, no comment): what a lab build bakes in."""
    return android_public_key(load_private_key(lab_key_path()).public_key())


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(str(path), "", f"not a readable adb private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(str(path), "", "an adb key must be RSA")
    return key


def server_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for an adb server devicelab starts: it offers the lab's key too."""
    env = dict(os.environ if base is None else base)
    known = [k for k in env.get(ENV, "").split(os.pathsep) if k]
    lab = str(lab_key_path())
    if lab not in known:
        known.append(lab)
    env[ENV] = os.pathsep.join(known)
    return env


# -- Android's public-key format ----------------------------------------------------------------
def android_public_key(key: rsa.RSAPublicKey) -> bytes:
    """base64 of mincrypt's RSAPublicKey struct, as adb sends in AUTH(RSAPUBLICKEY)."""
    numbers = key.public_numbers()
    n = numbers.n
    n0inv = (-pow(n, -1, 1 << 32)) % (1 << 32)
    rr = pow(1 << KEY_BITS, 2, n)
    raw = struct.pack("<II", WORDS, n0inv) + n.to_bytes(4 * WORDS, "little")
    raw += rr.to_bytes(4 * WORDS, "little") + struct.pack("<I", numbers.e)
    return base64.b64encode(raw)


def parse_android_public_key(text: bytes) -> rsa.RSAPublicKey:
    """The key in an AUTH(RSAPUBLICKEY) payload or an adb_keys line (`<base64> comment`)."""
    blob = text.strip(b"\0").split(None, 1)[0] if text.strip(b"\0").strip() else b""
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        raise ValueError("adb public key is not base64") from None
    if len(raw) != PUBKEY_SIZE or struct.unpack_from("<I", raw)[0] != WORDS:
        raise ValueError(f"adb public key is {len(raw)} bytes; expected {PUBKEY_SIZE} (RSA-{KEY_BITS})")
    n = int.from_bytes(raw[8 : 8 + 4 * WORDS], "little")
    (e,) = struct.unpack_from("<I", raw, PUBKEY_SIZE - 4)
    return rsa.RSAPublicNumbers(e, n).public_key()


def fingerprint(text: bytes) -> str:
    """What Android shows on the prompt: the MD5 of the key's base64, as colon-separated hex."""
    blob = text.strip(b"\0").split(None, 1)[0]
    digest = hashlib.md5(base64.b64decode(blob)).hexdigest().upper()  # noqa: S324 - what Android shows
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def verifies(key: rsa.RSAPublicKey, token: bytes, signature: bytes) -> bool:
    """Whether `signature` is adb's signature of `token` (PKCS#1 v1.5 over a SHA-1 DigestInfo,
    the token itself standing in for the digest)."""
    try:
        key.verify(signature, token, padding.PKCS1v15(), Prehashed(hashes.SHA1()))  # noqa: S303 - adb's wire format
    except (InvalidSignature, ValueError):
        return False
    return True


def sign(key: rsa.RSAPrivateKey, token: bytes) -> bytes:
    """adb's signature of an AUTH token (for tests and a host speaking the wire itself)."""
    return key.sign(token, padding.PKCS1v15(), Prehashed(hashes.SHA1()))  # noqa: S303 - adb's wire format
