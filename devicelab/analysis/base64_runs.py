"""Base64 runs in a value: where they are, which the walker decodes, and what they decode to.

A run is 16 or more characters of the alphabet (standard or URL-safe), line breaks within allowed.
Only a run that mixes cases is decoded: hex, UUIDs and words are runs too, but Base64 of real data
has letters of both cases.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator

import pybase64

# Base64 runs are found on a translated copy (alphabet -> "A", CR/LF/= kept, the rest -> " "), where
# bytes.find skips text fast; a character-class regex over every offset is ~10x slower.
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
_MAP = bytes(ord("A") if c in _ALPHABET else c if c in b"\r\n=" else ord(" ") for c in range(256))
_MIN_RUN = b"A" * 16
_RUN_TAIL = re.compile(rb"A+(?:\r?\nA+)*={0,2}")
_HEXISH = re.compile(rb"[0-9a-fA-F\-\r\n]+")
_URL_SAFE = bytes.maketrans(b"-_", b"+/")
_STANDARD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
#: A value without both (searched for apart) holds no run the walker decodes.
UPPER_LETTER = re.compile(rb"[A-Z]")
LOWER_LETTER = re.compile(rb"[a-z]")


def decoded_runs(data: bytes, most: int, looked: int) -> Iterator[tuple[str, bytes] | str]:
    """(label, decoded bytes) of each Base64 run of `data` the walker decodes, in order; past a bound, why.

    `most` bounds the runs decoded; `looked` the runs of the alphabet looked at (a hash or a long word is
    one, and is never decoded: it does not use up `most`).
    """
    whole = data.strip()
    one = one_run(whole) if most > 0 else None
    if one is not None:  # the whole value is one run: found and decoded without translating it
        if (not _HEXISH.fullmatch(whole) and UPPER_LETTER.search(whole) and LOWER_LETTER.search(whole)
                and len(one) >= 4):
            yield "base64", one
        return
    decoding = 0
    for count, (start, end) in enumerate(run_spans(data)):
        if count >= looked:
            yield f"more than {looked} runs of the Base64 alphabet: rest not looked at"
            return
        run = data[start:end]
        if _HEXISH.fullmatch(run) or not (UPPER_LETTER.search(run) and LOWER_LETTER.search(run)):
            continue  # hex, UUIDs, words: Base64 of real data mixes cases
        if decoding >= most:
            yield f"more than {most} Base64 runs: rest not decoded"
            return
        decoding += 1
        decoded = b64decode(run)
        if decoded is None or len(decoded) < 4:
            continue
        yield "base64" if len(run) == len(whole) else f"base64@{start}", decoded


def counts_many_runs(data: bytes, most: int) -> bool:
    """Whether `data` holds `most` runs or more, counted (a value at least 17 * most - 1 bytes long).

    Each run holds 16 characters of the alphabet and ends at a byte that is not one (its '=' or what
    stops it); counting those characters (one C pass) rules out most values that are long enough.
    """
    return (len(data) - len(data.translate(None, _ALPHABET)) >= 16 * most
            and data.translate(_MAP).count(_MIN_RUN) >= most)


def run_spans(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of 16+ Base64 characters, line breaks within allowed."""
    mapped = data.translate(_MAP)
    pos = mapped.find(_MIN_RUN)
    while pos >= 0:
        match = _RUN_TAIL.match(mapped, pos)
        assert match is not None  # the find guarantees an "A" at pos
        yield pos, match.end()
        pos = mapped.find(_MIN_RUN, match.end())


def one_run(whole: bytes) -> bytes | None:
    """What b64decode makes of `whole` (a value with its white space stripped) when run_spans finds it one
    run of the standard alphabet from end to end (lines of it, as Base64 is often sent); else None.

    Such a run starts with 16 characters of the alphabet, and is lines of it (LF, none empty) and at most two
    '='. pybase64 validates the alphabet as it decodes (SIMD): a byte of any other kind, a '-' or '_' (the
    URL-safe alphabet) make it refuse, and the runs are found as before; so are they where a CR or an '='
    is anywhere else (the checks here are single-byte searches and one split: a search for two bytes is slow).
    """
    body = whole.rstrip(b"=")
    if len(whole) - len(body) > 2 or len(body) < 16 or b"\r" in body or b"=" in body:
        return None
    lines = body.split(b"\n")
    if len(lines[0]) < 16 or not all(lines):
        return None
    compact = b"".join(lines) if len(lines) > 1 else body
    if len(compact) % 4 == 1:  # b64decode drops a last character that would be alone: it too must be Base64
        if compact[-1] not in _STANDARD:
            return None
        compact = compact[:-1]
    try:
        return pybase64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except binascii.Error:
        return None


def b64decode(run: bytes) -> bytes | None:
    compact = run.translate(_URL_SAFE, b"\r\n=")
    if len(compact) % 4 == 1:
        compact = compact[:-1]
    compact += b"=" * (-len(compact) % 4)
    try:  # SIMD: ~17x binascii on a 5 KB run; the same bytes for a compact, padded run (the fallback for any other)
        return pybase64.b64decode(compact, validate=True)
    except binascii.Error:
        pass
    try:
        return binascii.a2b_base64(compact, strict_mode=False)
    except binascii.Error:
        return None
