"""A third-party telemetry SDK's report: the IMEI encrypted under a key and IV baked into the
APK (AES-128-CBC, PKCS#7, then Base64), beside a nonce, a timestamp and a sequence number.

No list of encodings finds this IMEI; only comparing two handsets does (differential runs).
"""

from __future__ import annotations

import base64
import json
import secrets

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from devicelab.virtual.net.facts import DeviceFacts

#: fixed in the SDK (as such SDKs do): the same on every handset of the build
KEY = bytes.fromhex("6c6162746c656d657472792d6b657931")
IV = bytes.fromhex("00112233445566778899aabbccddeeff")


def encrypt(text: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(text.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(IV)).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


def report(facts: DeviceFacts, seq: int) -> bytes:
    """The JSON body: `did` follows the IMEI; `nonce`, `ts` and `seq` change on every report."""
    document = {
        "sdk": "lt-telemetry/2.4.1", "did": encrypt(facts.imei1), "nonce": secrets.token_hex(12),
        "ts": facts.now_ms, "seq": seq, "model": facts.prop("ro.product.model"),
        "os": facts.prop("ro.build.version.release", "9"), "events": [{"name": "app_open"}],
    }
    return json.dumps(document, separators=(",", ":")).encode()
