"""Types of the C module built from devicelab/analysis/_c (see quiet_path.py)."""

from collections.abc import Callable, Sequence
from typing import Any

from devicelab.analysis.segments import Limits, Note
from devicelab.model.traffic import Request

Proven = tuple[tuple[Note, ...], tuple[tuple[tuple[str, ...], bytes], ...]]

def traces(data: bytes, /) -> tuple[int, list[int]]: ...
def json_read(data: bytes, /) -> tuple[int, int, int, int, int, int]: ...
def force_scalar(scalar: bool, /) -> bool: ...

class Prover:
    def __init__(self, db: Any, spots_db: Any, bits: Sequence[int], reach: int, limits: Limits, note: type[Note],
                 b64decode: Callable[..., bytes], binascii_error: type[Exception]) -> None: ...
    def prove(self, request: Request, scratch: Any, spots_scratch: Any, /) -> Proven | None: ...
