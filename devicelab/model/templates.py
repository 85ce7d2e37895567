"""Traffic as data: the `template` payload kind of a build's traffic (fixtures/builds/*.yaml).

A QA engineer models a reported leak without code: the body is built from identity
placeholders through a pipeline, and sent over a transport.

    - name: tracker
      package: com.example.tracker
      payload: template
      url: http://collect.tracker.example/v1/e          # tcp://h:p/ udp://h:p/ dns://zone/ quic://h/ too
      template:
        format: json                                    # json | form | protobuf | raw | sntp
        fields: {d: "{imei|gzip|base64}", m: "{model}"} # protobuf: field numbers as keys
        encode: []                                      # steps over the whole body
      triggers: [{event: boot, delay: 5}]

A placeholder is `{name}` or `{name|step|step...}`; names are PLACEHOLDERS, steps are STEPS
(base64, hex, url, gzip, base32 encode; md5, sha1, sha256 hash to hex). Transports: http and
https POST the body; tcp and udp send it raw; dns asks `<body>.<zone>` (the body is split in
labels of 63; give it a label-safe step: hex or base32); quic sends a QUIC Initial to UDP/443 and,
unless `quic_only`, falls back to https when no answer comes (what Chrome's stack does).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from devicelab.model.data import Frozen

Step = Literal["base64", "base32", "hex", "url", "gzip", "md5", "sha1", "sha256"]
STEPS: tuple[str, ...] = ("base64", "base32", "hex", "url", "gzip", "md5", "sha1", "sha256")
#: what a placeholder may name: the handset's identifiers and build facts
PLACEHOLDERS: tuple[str, ...] = (
    "imei", "imei2", "serial", "android_id", "wifi_mac", "iccid", "imsi", "msisdn", "mccmnc", "operator",
    "model", "fingerprint", "build", "locale", "timezone", "time_ms",
)
Transport = Literal["http", "https", "tcp", "udp", "dns", "quic"]
PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)((?:\|[a-z0-9]+)*)\}")


class TemplateSpec(Frozen):
    #: sntp: an SNTP client request (48 bytes, mode 3), no fields
    format: Literal["json", "form", "protobuf", "raw", "sntp"] = "json"
    #: json/form: name -> text with placeholders; protobuf: field number -> text; raw: one field "body"
    fields: dict[str, str] = Field(default_factory=dict)
    #: steps over the whole rendered body, in order
    encode: tuple[Step, ...] = ()
    content_type: str = ""
    #: quic: no TCP fallback (a QUIC-only client: behind the gateway a gap, never a pass)
    quic_only: bool = False

    @field_validator("fields")
    @classmethod
    def _protobuf_keys(cls, fields: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.data.get("format") == "protobuf":
            bad = [key for key in fields if not key.isdigit() or not 0 < int(key) < 2**29]
            if bad:
                raise ValueError(f"protobuf fields are named by their numbers (1..2^29-1), got {', '.join(bad)}")
        return fields

    @field_validator("fields")
    @classmethod
    def _placeholders(cls, fields: dict[str, str]) -> dict[str, str]:
        for key, text in fields.items():
            for name, steps in PLACEHOLDER.findall(text):
                if name not in PLACEHOLDERS:
                    raise ValueError(f"{key}: unknown placeholder {{{name}}}; known: {', '.join(PLACEHOLDERS)}")
                for step in steps.split("|")[1:]:
                    if step not in STEPS:
                        raise ValueError(f"{key}: unknown step {step!r} in {{{name}{steps}}}; known: "
                                         f"{', '.join(STEPS)}")
        return fields
