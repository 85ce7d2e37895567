"""What each kind of app sends, and what it logs, when its trigger fires.

One coroutine per payload kind of the build manifests (devicelab.model.builds.PayloadKind). Each
builds the request a real client builds, sends it through the handset's HTTP client and
writes the logcat lines that client writes. They return True on success.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from devicelab.model.builds import AppTraffic, PayloadKind
from devicelab.virtual.net import checkin, telemetry, template, zzhc
from devicelab.virtual.net.facts import DeviceFacts
from devicelab.virtual.net.httpclient import DeviceHttpClient, NetError, Request
from devicelab.virtual.net.protobuf import Message

#: NetworkMonitor's probe User-Agent on Android 9 (CAPTIVE_PORTAL_USER_AGENT)
PROBE_USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/60.0.3112.32 Safari/537.36")
OKHTTP_USER_AGENT = "okhttp/3.10.0"


@dataclass
class AppContext:
    """One firing of one app."""

    spec: AppTraffic
    facts: DeviceFacts
    client: DeviceHttpClient
    log: Callable[[str, str, str], None]  # (tag, message, level)
    #: what the app keeps between runs (its shared preferences), per app name
    memory: dict[str, object] = field(default_factory=dict)

    def info(self, tag: str, message: str) -> None:
        self.log(tag, message, "I")

    def warn(self, tag: str, message: str) -> None:
        self.log(tag, message, "W")


Behaviour = Callable[[AppContext], Awaitable[bool]]


async def connectivity(ctx: AppContext) -> bool:
    """NetworkMonitor's captive-portal probe (HTTP or HTTPS): expects 204."""
    kind = "PROBE_HTTPS" if ctx.spec.scheme == "https" else "PROBE_HTTP"
    tag = "NetworkMonitor/100"
    started = time.monotonic()
    request = Request("GET", ctx.spec.url, (("User-Agent", PROBE_USER_AGENT), ("Connection", "close")))
    try:
        response = await ctx.client.fetch(request)
    except NetError as exc:
        ctx.info(tag, f"{kind} {ctx.spec.url} Probe failed with exception {exc}")
        return False
    took = int((time.monotonic() - started) * 1000)
    heads = ", ".join(f"{k}=[{v}]" for k, v in response.headers)
    ctx.info(tag, f"{kind} {ctx.spec.url} time={took}ms ret={response.status} "
                  f"request={{User-Agent=[{PROBE_USER_AGENT}]}} headers={{null=[HTTP/1.1 {response.status} "
                  f"{response.reason}], {heads}}}")
    return response.status == 204


async def google_checkin(ctx: AppContext) -> bool:
    tag = "CheckinTask"
    last, kept = ctx.memory.get("last_checkin_ms", 0), ctx.memory.get("security_token", 0)
    body = checkin.request_body(ctx.facts, last_checkin_ms=last if isinstance(last, int) else 0,
                                security_token=kept if isinstance(kept, int) else 0)
    device, build_id = ctx.facts.prop("ro.product.device"), ctx.facts.prop("ro.build.id")
    headers = (
        ("Content-type", checkin.CONTENT_TYPE), ("Content-Encoding", "gzip"), ("Accept-Encoding", "gzip"),
        ("User-Agent", f"Android-Checkin/2.0 ({device} {build_id}); gzip"),
        ("Content-Length", str(len(body))),
    )
    ctx.info(tag, f"Checkin started: {ctx.spec.url}")
    try:
        response = await ctx.client.fetch(Request("POST", ctx.spec.url, headers, body))
        payload = response.body
        if (response.header("content-encoding") or "").lower() == "gzip":
            payload = gzip.decompress(payload)
        ok, _, token = checkin.parse_response(payload)
    except (NetError, ValueError, OSError, EOFError) as exc:
        ctx.warn(tag, f"Checkin failed: {ctx.spec.url} (request #1): {exc}")
        return False
    if response.status != 200 or not ok:
        ctx.warn(tag, f"Checkin failed: {ctx.spec.url} (request #1): HTTP {response.status}")
        return False
    ctx.memory["last_checkin_ms"] = ctx.facts.now_ms
    ctx.memory["security_token"] = token
    ctx.info(tag, f"Checkin success: {ctx.spec.url} (1 requests sent)")
    return True


async def _post_json(ctx: AppContext, tag: str, document: dict[str, object], what: str) -> bool:
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = (("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body))),
               ("Accept-Encoding", "gzip"), ("User-Agent", OKHTTP_USER_AGENT))
    try:
        response = await ctx.client.fetch(Request("POST", ctx.spec.url, headers, body))
    except NetError as exc:
        ctx.warn(tag, f"{what} failed: {exc}")
        return False
    ctx.info(tag, f"{what}: HTTP {response.status} {response.body[:200].decode('utf-8', 'replace')}")
    return 200 <= response.status < 300


async def activation(ctx: AppContext) -> bool:
    """HMD device activation (warranty start): identifiers over TLS to HMD's host."""
    f = ctx.facts
    document: dict[str, object] = {
        "imei1": f.imei1, "imei2": f.imei2, "sn": f.serial, "androidId": f.android_id,
        "model": f.prop("ro.product.model"), "sku": f.prop("ro.product.name"),
        "swVersion": f.prop("ro.build.display.id"), "fingerprint": f.fingerprint,
        "simMccMnc": f.sim.mccmnc if f.sim else "", "timestamp": f.now_ms,
    }
    ctx.info("ActivationService", f"activate device via {ctx.spec.url}")
    return await _post_json(ctx, "ActivationService", document, "activation")


async def analytics(ctx: AppContext) -> bool:
    """Usage analytics: Play services' Clearcut batch (protobuf), or an OEM's JSON events."""
    f = ctx.facts
    if ctx.spec.host == "play.googleapis.com":
        android = (Message().num(1, f.android_id_int).text(3, f.prop("ro.product.model"))
                   .num(4, int(f.prop("ro.build.version.sdk", "28"))).text(6, f.fingerprint).text(9, f.locale))
        client_info = Message().num(1, 4).sub(2, android)
        event = Message().num(1, f.now_ms).raw(6, b"\x08\x01\x10\x02")
        body = Message().sub(1, client_info).num(2, 1).sub(3, event).num(4, f.now_ms).encode()
        headers = (("Content-Type", "application/x-protobuf"), ("Content-Length", str(len(body))),
                   ("User-Agent", f.user_agent()))
        try:
            response = await ctx.client.fetch(Request("POST", ctx.spec.url, headers, body))
        except NetError as exc:
            ctx.warn("ClearcutUploader", f"Upload failed: {exc}")
            return False
        ctx.info("ClearcutUploader", f"Uploaded 1 log events, HTTP {response.status}")
        return response.status == 200
    document: dict[str, object] = {
        "androidId": f.android_id, "model": f.prop("ro.product.model"), "swVersion": f.prop("ro.build.display.id"),
        "events": [{"name": "screen_on", "ts": f.now_ms}, {"name": "app_usage", "ts": f.now_ms}],
    }
    return await _post_json(ctx, "DataAgent", document, "upload events")


async def self_registration(ctx: AppContext) -> bool:
    """China Telecom self-registration (com.qualcomm.qti.autoregistration)."""
    tag = "RegistrationTask"
    payload = zzhc.java_json(zzhc.params(ctx.facts))
    ctx.info(tag, f"Params: {payload}")
    body = zzhc.request_body(payload)
    host = ctx.spec.url.split("://", 1)[1].split("/", 1)[0]
    try:
        response = await ctx.client.fetch(Request("POST", ctx.spec.url, zzhc.headers(body, host), body))
    except NetError as exc:
        ctx.warn(tag, f"register failed: {exc}")
        return False
    text = response.body[:300].decode("utf-8", "replace")
    ctx.info(tag, f"Response: {response.status} {text}")
    try:
        result = json.loads(text)
    except ValueError:
        return False
    return response.status == 200 and isinstance(result, dict) and result.get("resultCode") == "0"


async def pinned_push(ctx: AppContext) -> bool:
    """An OEM push agent registering with its server; the app pins the server key."""
    f = ctx.facts
    document: dict[str, object] = {"androidId": f.android_id, "model": f.prop("ro.product.model"),
                                   "channel": "hmd", "ts": f.now_ms}
    return await _post_json(ctx, "PushAgent", document, "register push channel")


async def direct_daemon(ctx: AppContext) -> bool:
    """A native daemon's download (Qualcomm XTRA assistance data), on its own sockets."""
    tag = "LocSvc_XtraClient"
    f = ctx.facts
    agent = f"LE/1.2.3/{f.prop('ro.product.manufacturer')}/{f.prop('ro.product.model')}/" \
            f"{f.prop('ro.board.platform')}/{f.sim.operator if f.sim else '-'}"
    ctx.info(tag, f"Downloading XTRA data from {ctx.spec.url}")
    try:
        response = await ctx.client.fetch(Request("GET", ctx.spec.url, (("User-Agent", agent), ("Accept", "*/*"))))
    except NetError as exc:
        ctx.warn(tag, f"XTRA download failed: {exc}")
        return False
    ctx.info(tag, f"XTRA download: HTTP {response.status}, {len(response.body)} bytes")
    return response.status == 200


async def templated(ctx: AppContext) -> bool:
    """A client modelled in the build file (payload `template`: devicelab.virtual.net.template)."""
    return await template.send(ctx.spec, ctx.facts, ctx.client, lambda text: ctx.info(ctx.spec.name, text))


async def telemetry_report(ctx: AppContext) -> bool:
    """A telemetry SDK's report, the IMEI encrypted inside (virtual.net.telemetry); its sequence
    number lives in the app's preferences, so it grows across reboots."""
    seq = ctx.memory.get("seq", 0)
    seq = (seq if isinstance(seq, int) else 0) + 1
    ctx.memory["seq"] = seq
    body = telemetry.report(ctx.facts, seq)
    headers = (("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body))),
               ("User-Agent", OKHTTP_USER_AGENT))
    try:
        response = await ctx.client.fetch(Request("POST", ctx.spec.url, headers, body))
    except NetError as exc:
        ctx.warn("LtTelemetry", f"report #{seq} failed: {exc}")
        return False
    ctx.info("LtTelemetry", f"report #{seq}: HTTP {response.status}")
    return 200 <= response.status < 300


BEHAVIOURS: dict[PayloadKind, Behaviour] = {
    "connectivity": connectivity,
    "checkin": google_checkin,
    "activation": activation,
    "analytics": analytics,
    "zzhc": self_registration,
    "pinned_push": pinned_push,
    "direct_daemon": direct_daemon,
    "template": templated,
    "telemetry": telemetry_report,
}
