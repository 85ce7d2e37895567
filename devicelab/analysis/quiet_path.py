"""The quiet path in C: a request's walk followed without the walker, or left to it (devicelab/analysis/_c/prove.c).

Most requests hold nothing to find. The walker proves it in Python, ~10-100 us a request; the prover follows
the same steps in C (the gate's needle database through hyperscan, the decoders' traces in one vector pass,
a JSON document read without building it) for the values it knows how to follow, and answers None for
everything else, which the walker then walks as before. Where it answers, it gives the notes the walk would
leave and the segments it would yield with a needle or a position in them; the Analyzer matches and locates
those as it does the walker's. tests/analysis/test_quiet_path.py holds the two side by side.
"""

from __future__ import annotations

import binascii

import pybase64

from devicelab.analysis.prefilter import Gate
from devicelab.analysis.segments import Limits, Note
from devicelab.model.traffic import Request

try:
    from devicelab.analysis import _fastpath
except ImportError:  # a checkout whose C module was not built: the walker does all of it
    _fastpath = None  # type: ignore[assignment]

#: Whether the C module is built (bootstrap builds it; tests/analysis/test_quiet_path.py fails without it).
AVAILABLE = _fastpath is not None


#: What the prover answers: the walk's notes, and (where, data) of each segment with a needle or a position in it.
Proven = tuple[tuple[Note, ...], tuple[tuple[tuple[str, ...], bytes], ...]]


class QuietPath:
    """`prove(request)`: what the walk of `request` would note and give the matcher; None: the walker decides."""

    def __init__(self, gate: Gate, limits: Limits) -> None:
        assert _fastpath is not None
        db, bits = gate.needle_database()
        self._gate = gate
        self._prover = _fastpath.Prover(db, gate.spots_database(), bits, gate.reach, limits, Note, pybase64.b64decode,
                                        binascii.Error)

    def prove(self, request: Request) -> Proven | None:
        proven: Proven | None = self._prover.prove(request, *self._gate.quiet_scratches())
        return proven


def quiet_path(gate: Gate | None, limits: Limits) -> QuietPath | None:
    """The quiet path for this gate, if the C module is built (no gate, no hyperscan: none)."""
    return QuietPath(gate, limits) if gate is not None and _fastpath is not None else None
