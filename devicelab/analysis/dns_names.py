"""What a DNS query name can carry: data in its labels (DNS exfiltration, tracking subdomains).

An identifier in a name is usually encoded to fit a label's alphabet (letters, digits, hyphen;
63 characters a label) and often split over several labels:

    3439303135343230.3332333735313800.t.exfil.example      hex, split
    gq2dsmbrgu2dembtgizdgnzvgexa.t.exfil.example           base32 (RFC 4648, padding dropped)

`candidates(name)` gives the byte strings the matcher should read: runs of the data labels (all
but the last two: the registered domain) joined from the first, each label alone, and their
base32 decodings. Hex needs no
decoding here: the matcher's needles include every identifier's hex form.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass

_BASE32 = re.compile(r"[a-z2-7]+")
MIN_DATA = 8  # shorter labels are words, not payloads
MAX_NAME = 253


@dataclass(frozen=True)
class Candidate:
    where: tuple[str, ...]  # e.g. ("dns", "qname", "labels 1-2")
    steps: tuple[str, ...]  # decoding steps, e.g. ("dns-labels", "base32")
    data: bytes


def data_labels(name: str) -> list[str]:
    labels = [label for label in name.lower().rstrip(".")[:MAX_NAME].split(".") if label]
    return labels[:-2] if len(labels) > 2 else []


def candidates(name: str) -> Iterator[Candidate]:
    labels = data_labels(name)
    texts: list[tuple[str, str, tuple[str, ...]]] = [
        (f"labels 1-{end}", "".join(labels[:end]), ("dns-labels",)) for end in range(2, len(labels) + 1)]
    texts += [(f"label {index}", label, ()) for index, label in enumerate(labels, 1)]
    for where, text, steps in texts:
        yield Candidate(("dns", "qname", where), steps, text.encode())
        decoded = _base32(text)
        if decoded is not None:
            yield Candidate(("dns", "qname", where), (*steps, "base32"), decoded)


def _base32(text: str) -> bytes | None:
    if len(text) < MIN_DATA or not _BASE32.fullmatch(text):
        return None
    try:
        return base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None
