"""What the walker yields (Segment, FieldGroup), what it notes (Note), and the Limits it keeps to."""

from __future__ import annotations

from dataclasses import dataclass

from devicelab.analysis.structured import Scalar

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 8  # decoders stacked on one value
    max_decoded: int = 64 * _MB  # bytes all decoders together may produce for one request
    max_segments: int = 200_000
    max_nesting: int = 64  # JSON / protobuf levels walked
    max_json_bytes: int = 32 * _MB
    max_protobuf_bytes: int = 1 * _MB
    max_base64_runs: int = 1_000  # per value: runs decoded (letters of both cases, not hex)
    max_base64_looked: int = 20_000  # per value: runs of the alphabet looked at (hex and words too)
    max_fields: int = 10_000  # form fields, multipart parts


@dataclass(frozen=True, slots=True)
class Segment:
    """Bytes to scan, where they were, and the decoders that produced them."""

    where: tuple[str, ...]
    steps: tuple[str, ...]
    data: bytes
    quiet: bool = False  # the gate saw no needle and no position in `data`: nothing to match


@dataclass(frozen=True, slots=True)
class FieldGroup:
    """Scalars that sit together (one JSON object, one query string): input for the location check."""

    where: tuple[str, ...]
    steps: tuple[str, ...]
    fields: tuple[tuple[str, Scalar], ...]


@dataclass(frozen=True, slots=True)
class Note:
    """Something the walker could not decode, or stopped decoding, and why."""

    where: tuple[str, ...]
    decoder: str
    problem: str


Item = Segment | FieldGroup


def render(where: tuple[str, ...]) -> str:
    return " > ".join(where)


def short(exc: BaseException) -> str:
    """An exception's text for a note: a decoder's message can be as long as its input."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
