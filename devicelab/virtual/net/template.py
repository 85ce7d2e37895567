"""The `template` client: a build's traffic described as data (devicelab.model.templates), played
the way a real client would send it.

The body comes from the handset's facts through each placeholder's steps, then the body's own
steps. Transports: http/https through the handset's HTTP client; tcp, udp, dns and quic need a
network of the handset's own (behind the lab's gateway: devicelab.virtual.net.kernel). Without one
(the in-process path of a proxy capture) a raw-socket client fails with the error Android gives an
app whose network cannot carry it, and says so in logcat: the proxy could not have seen it anyway.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import json
import secrets
from collections.abc import Callable
from urllib.parse import quote, urlencode

from devicelab.model.builds import AppTraffic
from devicelab.model.templates import PLACEHOLDER, TemplateSpec
from devicelab.virtual.net.facts import DeviceFacts
from devicelab.virtual.net.httpclient import DeviceHttpClient, NetError, Request
from devicelab.virtual.net.kernel import KernelNetwork, NameNotFound
from devicelab.virtual.net.protobuf import Message

QUIC_TIMEOUT = 1.0  # Chrome gives QUIC ~300 ms before racing TCP; a little more on a loaded host
TCP_TIMEOUT = 10.0
LABEL = 63

STEPS: dict[str, Callable[[bytes], bytes]] = {
    "base64": base64.b64encode,
    "base32": lambda b: base64.b32encode(b).rstrip(b"=").lower(),
    "hex": lambda b: b.hex().encode(),
    "url": lambda b: quote(b, safe="").encode(),
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "md5": lambda b: hashlib.md5(b).hexdigest().encode(),  # noqa: S324 - what the modelled client does
    "sha1": lambda b: hashlib.sha1(b).hexdigest().encode(),  # noqa: S324
    "sha256": lambda b: hashlib.sha256(b).hexdigest().encode(),
}


def values(facts: DeviceFacts) -> dict[str, str]:
    sim = facts.sim
    return {
        "imei": facts.imei1, "imei2": facts.imei2, "serial": facts.serial, "android_id": facts.android_id,
        "wifi_mac": facts.wifi_mac, "iccid": sim.iccid if sim else "", "imsi": sim.imsi if sim else "",
        "msisdn": sim.msisdn if sim else "", "mccmnc": sim.mccmnc if sim else "",
        "operator": sim.operator if sim else "", "model": facts.prop("ro.product.model"),
        "fingerprint": facts.fingerprint, "build": facts.prop("ro.build.display.id"), "locale": facts.locale,
        "timezone": facts.timezone, "time_ms": str(facts.now_ms),
    }


def fill(text: str, known: dict[str, str]) -> bytes:
    """Placeholders replaced by their values through their steps (binary steps stay bytes)."""
    out = b""
    last = 0
    for match in PLACEHOLDER.finditer(text):
        out += text[last:match.start()].encode()
        data = known[match.group(1)].encode()
        for step in match.group(2).split("|")[1:]:
            data = STEPS[step](data)
        out += data
        last = match.end()
    return out + text[last:].encode()


def body(spec: TemplateSpec, facts: DeviceFacts) -> bytes:
    known = values(facts)
    fields = {key: fill(text, known) for key, text in spec.fields.items()}
    if spec.format == "json":
        data = json.dumps({k: v.decode("utf-8", "replace") for k, v in fields.items()},
                          separators=(",", ":")).encode()
    elif spec.format == "form":
        data = urlencode([(k, v) for k, v in fields.items()]).encode()
    elif spec.format == "protobuf":
        message = Message()
        for key in sorted(fields, key=int):
            message.raw(int(key), fields[key])
        data = message.encode()
    elif spec.format == "sntp":
        data = b"\x1b" + b"\x00" * 39 + _ntp_time(facts.now)
    else:
        data = b"".join(fields.values())
    for step in spec.encode:
        data = STEPS[step](data)
    return data


def _ntp_time(now: float) -> bytes:
    return (int(now) + 2_208_988_800).to_bytes(4, "big") + int((now % 1) * 2**32).to_bytes(4, "big")


def content_type(spec: TemplateSpec) -> str:
    return spec.content_type or {"json": "application/json", "form": "application/x-www-form-urlencoded",
                                 "protobuf": "application/x-protobuf"}.get(spec.format, "application/octet-stream")


async def send(app: AppTraffic, facts: DeviceFacts, client: DeviceHttpClient,
               log: Callable[[str], None]) -> bool:
    """Play one firing of a template client; True when the server took it."""
    assert app.template is not None
    spec, data = app.template, body(app.template, facts)
    scheme = app.scheme
    if scheme in ("http", "https"):
        return await _http(app, spec, data, client, log, app.url)
    kernel = client.kernel
    if kernel is None:
        log(f"{scheme}://{app.host}: java.net.SocketException: Network is unreachable (no route for raw sockets)")
        return False
    try:
        if scheme == "dns":
            return await _dns(kernel, app.host, data, log)
        address = await kernel.resolve(app.host)
        if scheme == "tcp":
            return await _tcp(kernel, (address, app.port or 0), data, log)
        if scheme == "udp":
            reply = await kernel.datagram((address, app.port or 0), data, TCP_TIMEOUT)
            log(f"udp {app.host}:{app.port}: sent {len(data)} bytes, {len(reply)} back")
            return True
        # quic: an Initial to UDP/443; the lab's gateway drops it, so the stack falls back to TCP
        reply = await kernel.datagram((address, 443), quic_initial(app.host), QUIC_TIMEOUT)
        if reply:
            log(f"quic {app.host}: answered")
            return True
        if spec.quic_only:
            log(f"quic {app.host}: no answer; QUIC only, giving up")
            return False
        log(f"quic {app.host}: no answer in {QUIC_TIMEOUT:g} s, falling back to TCP")
        return await _http(app, spec, data, client, log, f"https://{app.host}{app.path}")
    except (NameNotFound, OSError, TimeoutError) as exc:
        log(f"{scheme}://{app.host}: {type(exc).__name__}: {exc}")
        return False


async def _http(app: AppTraffic, spec: TemplateSpec, data: bytes, client: DeviceHttpClient,
                log: Callable[[str], None], url: str) -> bool:
    headers = (("Content-Type", content_type(spec)), ("Content-Length", str(len(data))),
               ("User-Agent", "okhttp/3.12.1"))
    try:
        response = await client.fetch(Request("POST", url, headers, data))
    except NetError as exc:
        log(f"POST {url} failed: {exc}")
        return False
    log(f"POST {url}: HTTP {response.status}")
    return 200 <= response.status < 300


async def _tcp(kernel: KernelNetwork, address: tuple[str, int], data: bytes, log: Callable[[str], None]) -> bool:
    sock = await kernel.connect(address, TCP_TIMEOUT)
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        writer.write(data)
        await writer.drain()
        writer.write_eof()
        reply = await asyncio.wait_for(reader.read(65536), TCP_TIMEOUT)
    finally:
        writer.close()
    log(f"tcp {address[0]}:{address[1]}: sent {len(data)} bytes, {len(reply)} back")
    return True


async def _dns(kernel: KernelNetwork, zone: str, data: bytes, log: Callable[[str], None]) -> bool:
    text = data.decode("ascii", "replace").lower()
    labels = [text[i:i + LABEL] for i in range(0, len(text), LABEL)] or ["0"]
    name = ".".join([*labels, zone])
    with contextlib.suppress(NameNotFound):  # the answer does not matter: the name was the message
        await kernel.query(name)
    log(f"dns: asked {len(name)} characters under {zone}")
    return True


def quic_initial(host: str) -> bytes:
    """The shape of a QUIC v1 Initial (long header, version 1, random connection IDs), padded to
    1200 bytes as RFC 9000 requires; the lab only needs it to look like one on the wire."""
    dcid, scid = secrets.token_bytes(8), secrets.token_bytes(8)
    head = bytes([0xC3]) + (1).to_bytes(4, "big") + bytes([8]) + dcid + bytes([8]) + scid + b"\x00"
    return (head + b"\x44\xd0" + host.encode()).ljust(1200, b"\x00")
