"""China Telecom self-registration (自注册, ZZHC) as Qualcomm's
com.qualcomm.qti.autoregistration sends it: `POST /` to zzhc.vnet.cn over plain HTTP, body =
android.util.Base64.DEFAULT of a JSON object (a line feed every 76 characters and at the end),
`Content-Type: application/encrypted-json`. See realdata/zzhc/zzhc_protocol_notes.md."""

from __future__ import annotations

import base64
import json

from devicelab.virtual.net.facts import DeviceFacts

HOST = "zzhc.vnet.cn"
CONTENT_TYPE = "application/encrypted-json"
SUCCESS = b'{"resultCode":"0","resultDesc":"Success"}'
REGVER = "5.0"  # Qualcomm's DeviceInfoPool
NO_ICCID = "0" * 20
LINE = 76


def model_name(facts: DeviceFacts) -> str:
    """`<3-letter maker>-<model>`, at most 20 characters: "HMD-Nokia 7 plus"."""
    return f"HMD-{facts.prop('ro.product.model')}"[:20]


def params(facts: DeviceFacts) -> dict[str, str]:
    """The JSON fields in the client's order (org.json keeps insertion order)."""
    sim = facts.sim
    return {
        "REGVER": REGVER,
        "MEID": facts.imei1,  # no CDMA MEID on this phone: the IMEI goes here
        "MODEL": model_name(facts),
        "SWVER": facts.prop("ro.build.software.version", facts.prop("ro.build.display.id")),
        "UETYPE": "1",
        "SIM1ICCID": sim.iccid if sim else NO_ICCID,
        "SIM1LTEIMSI": sim.imsi if sim else "",
        "SIM1CELLID": str(sim.cell.eci) if sim else "",
        "MACID": facts.wifi_mac,
        "IMEI1": facts.imei1,
        "IMEI2": facts.imei2,
        "OSVER": "android" + facts.prop("ro.build.version.release", "9"),
        "ACCESSTYPE": "2" if facts.wifi_connected else "1",  # 1 mobile, 2 Wi-Fi
        "REGDATE": facts.local_time().strftime("%Y-%m-%d %H:%M:%S"),
    }


def java_json(obj: dict[str, str]) -> str:
    """JSONObject.toString() on Android: compact, and '/' escaped as '\\/'."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/")


def base64_default(data: bytes) -> bytes:
    """android.util.Base64.encode(data, Base64.DEFAULT): 76-character lines, each ending in \\n."""
    text = base64.b64encode(data)
    lines = [text[i : i + LINE] for i in range(0, len(text), LINE)]
    return b"".join(line + b"\n" for line in lines)


def request_body(payload_json: str) -> bytes:
    return base64_default(payload_json.encode())


def decode_body(body: bytes) -> dict[str, str]:
    """The JSON inside a request body (line breaks ignored); ValueError when it is not one."""
    try:
        data = json.loads(base64.b64decode(b"".join(body.split()), validate=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a Base64 JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("the JSON is not an object")
    return {str(k): str(v) for k, v in data.items()}


def headers(body: bytes, host: str = HOST) -> tuple[tuple[str, str], ...]:
    """What Android's bundled Apache HttpClient sends with the entity, in its order."""
    return (
        ("Content-Length", str(len(body))),
        ("Content-Type", CONTENT_TYPE),
        ("Host", host),
        ("Connection", "Keep-Alive"),
        ("User-Agent", "Apache-HttpClient/UNAVAILABLE (java 1.4)"),
    )
