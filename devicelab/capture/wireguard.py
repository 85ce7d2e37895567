"""WireGuard mode: one server instance per handset, with its own key file and port.

mitmproxy reads the keys from `<confdir>/wireguard.conf` (JSON: server_key, client_key); we write
that file ourselves (mode 0600: it holds private keys) and build the handset's client config from
it and the address the server really listens on (mitmproxy prints `Endpoint = ...:0` for port 0).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import mitmproxy_rs

from devicelab.errors import CaptureError

#: Addresses inside the tunnel mitmproxy's userspace WireGuard uses.
CLIENT_ADDRESS = "10.0.0.1"
DNS_ADDRESS = "10.0.0.53"


@dataclass(frozen=True)
class WireGuardKeys:
    server_key: str
    client_key: str

    @property
    def server_public(self) -> str:
        return str(mitmproxy_rs.wireguard.pubkey(self.server_key))

    @property
    def client_public(self) -> str:
        return str(mitmproxy_rs.wireguard.pubkey(self.client_key))


def write_keys(conf_path: Path) -> WireGuardKeys:
    """Generate a key pair for the server and one for the handset into a new file (0600)."""
    keys = WireGuardKeys(mitmproxy_rs.wireguard.genkey(), mitmproxy_rs.wireguard.genkey())
    data = json.dumps({"server_key": keys.server_key, "client_key": keys.client_key}, indent=4).encode()
    try:
        fd = os.open(conf_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise CaptureError(f"cannot write WireGuard keys to {conf_path}: {exc.strerror}") from None
    return keys


def read_keys(conf_path: Path) -> WireGuardKeys:
    try:
        raw = json.loads(conf_path.read_text())
        keys = WireGuardKeys(str(raw["server_key"]), str(raw["client_key"]))
        keys.server_public, keys.client_public  # noqa: B018 - invalid keys fail here, not on the handset
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CaptureError(f"unusable WireGuard key file {conf_path}: {exc}") from None
    return keys


def client_config(keys: WireGuardKeys, endpoint_host: str, endpoint_port: int) -> str:
    """The handset's WireGuard config (what the WireGuard app imports): all traffic into the tunnel."""
    host = f"[{endpoint_host}]" if ":" in endpoint_host else endpoint_host
    return "\n".join([
        "[Interface]",
        f"PrivateKey = {keys.client_key}",
        f"Address = {CLIENT_ADDRESS}/32",
        f"DNS = {DNS_ADDRESS}",
        "",
        "[Peer]",
        f"PublicKey = {keys.server_public}",
        "AllowedIPs = 0.0.0.0/0",
        f"Endpoint = {host}:{endpoint_port}",
        "",
    ])


def mode_spec(conf_path: Path, listen_host: str) -> str:
    """mitmproxy's mode string: this key file, this host, a free port."""
    host = f"[{listen_host}]" if ":" in listen_host else listen_host
    return f"wireguard:{conf_path}@{host}:0"
