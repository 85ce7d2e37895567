"""Google checkin: the AndroidCheckinRequest Play services posts to
https://android.clients.google.com/checkin at first boot and periodically, and the server's
AndroidCheckinResponse.

Field numbers follow the public checkin.proto (as in microG and the GCM client code): the IMEI
travels as a string (field 1), the Android ID as an int64 varint (2), the Wi-Fi MAC as hex
without separators (9, type "wifi" in 19), the serial in 16, and the build fingerprint inside
checkin.build.id. The body is gzip-compressed, as Play services sends it.
"""

from __future__ import annotations

import gzip
import hashlib

from devicelab.virtual.net.facts import DeviceFacts
from devicelab.virtual.net.protobuf import Message, decode, first

CONTENT_TYPE = "application/x-protobuffer"
CHECKIN_VERSION = 3


def build_proto(facts: DeviceFacts) -> Message:
    """AndroidBuildProto (AndroidCheckinProto.build)."""
    return (
        Message()
        .text(1, facts.fingerprint)  # id
        .text(2, facts.prop("ro.product.board", facts.prop("ro.product.device")))  # product (hardware)
        .text(3, facts.prop("ro.product.brand"))  # carrier (Build.BRAND)
        .text(4, facts.prop("gsm.version.baseband"))  # radio
        .text(5, facts.prop("ro.bootloader"))  # bootloader
        .text(6, facts.prop("ro.com.google.clientidbase", "android-google"))  # client
        .num(7, int(facts.now) - 86_400)  # timestamp (build time, seconds)
        .num(8, 0)  # google_services
        .text(9, facts.prop("ro.product.device"))  # device
        .num(10, int(facts.prop("ro.build.version.sdk", "28")))  # sdk_version
        .text(11, facts.prop("ro.product.model"))  # model
        .text(12, facts.prop("ro.product.manufacturer"))  # manufacturer
        .text(13, facts.prop("ro.product.name"))  # build_product
        .flag(14, False)  # ota_installed
    )


def checkin_proto(facts: DeviceFacts, last_checkin_ms: int) -> Message:
    """AndroidCheckinProto (AndroidCheckinRequest.checkin)."""
    msg = Message().sub(1, build_proto(facts)).num(2, last_checkin_ms)
    event = "event_log_start" if last_checkin_ms == 0 else "system_update"
    msg.sub(3, Message().text(1, event).num(3, facts.now_ms))  # AndroidEventProto: tag, time_msec
    sim = facts.sim
    if sim is not None:
        msg.text(6, sim.mccmnc).text(7, sim.mccmnc).text(8, "mobile-notroaming")  # cell/sim operator, roaming
    else:
        msg.text(8, "WIFI::")
    return msg.num(9, 0)  # user_number


def request_bytes(facts: DeviceFacts, *, last_checkin_ms: int = 0, security_token: int = 0) -> bytes:
    """The AndroidCheckinRequest protobuf (uncompressed)."""
    locale = facts.locale.replace("-", "_")
    msg = (
        Message()
        .text(1, facts.imei1)  # imei
        .num(2, facts.android_id_int)  # id (the Android ID, int64)
        .text(3, "")  # digest of the last settings
        .sub(4, checkin_proto(facts, last_checkin_ms))
        .text(6, locale)  # locale
        .num(7, facts.android_id_int ^ 0x5DEECE66D)  # logging_id
        .text(9, facts.wifi_mac.replace(":", ""))  # mac_addr
        .text(12, facts.timezone)  # time_zone
    )
    if security_token:
        msg.fixed64(13, security_token)
    msg.num(14, CHECKIN_VERSION)  # version
    msg.text(16, facts.serial)  # serial_number
    msg.text(19, "wifi")  # mac_addr_type
    msg.num(20, 0)  # fragment
    msg.num(22, 0)  # user_serial_number
    return msg.encode()


def request_body(facts: DeviceFacts, **kwargs: int) -> bytes:
    """The HTTP body: the request, gzip-compressed."""
    return gzip.compress(request_bytes(facts, **kwargs), mtime=0)


def response_bytes(request: bytes, now_ms: int) -> bytes:
    """The server's AndroidCheckinResponse to a request (decompressed protobuf): stats ok, the
    device's Android ID back as fixed64, a security token and a few Gservices settings."""
    try:
        fields = decode(request)
    except ValueError:
        fields = []
    android_id = first(fields, 2)
    device_id = android_id if isinstance(android_id, int) and android_id else int.from_bytes(
        hashlib.sha256(request).digest()[:8], "big") >> 1
    token = int.from_bytes(hashlib.sha256(b"token" + device_id.to_bytes(8, "big")).digest()[:8], "big")
    msg = Message().flag(1, True).num(3, now_ms).text(4, hashlib.sha1(request, usedforsecurity=False).hexdigest())
    for name, value in (("checkin_interval", "43200"), ("gms:phenotype:phenotype_flag:debug_bypass_phenotype", "0")):
        msg.sub(5, Message().text(1, name).text(2, value))
    return msg.flag(6, True).fixed64(7, device_id).fixed64(8, token).flag(9, False).encode()


def parse_response(body: bytes) -> tuple[bool, int, int]:
    """(stats_ok, android_id, security_token) from a response body (0 for an absent id or
    token); ValueError when it is no protobuf."""
    fields = decode(body)
    android_id, token = first(fields, 7), first(fields, 8)
    return (first(fields, 1) == 1, android_id if isinstance(android_id, int) else 0,
            token if isinstance(token, int) else 0)
