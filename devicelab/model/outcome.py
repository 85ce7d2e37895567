"""Outcomes and exit codes: the one rule every verdict, report and command follows.

    pass          0  nothing forbidden was seen, and everything was seen
    fail          1  a violation: a leak seen is a leak, whatever broke later
    inconclusive  2  no violation, but a counted gap: something went unseen
    error         3  the lab failed (or the input was bad) before the build could be judged
    (interrupted) 130 the operator stopped the run (SIGINT, SIGTERM), as shells expect; a run that
                  had already seen a violation still exits 1 (the leak stands)

A violation outranks everything; then an error (nothing can be said, rerun); then a gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Outcome = Literal["pass", "fail", "inconclusive", "error"]
EXIT_CODES: dict[Outcome, int] = {"pass": 0, "fail": 1, "inconclusive": 2, "error": 3}
#: Bad input and lab failures exit like an error: never 0, 1 or 2, which a CI gate reads as a verdict.
EXIT_ERROR = EXIT_CODES["error"]
EXIT_INTERRUPTED = 130
_RANK: dict[Outcome, int] = {"pass": 0, "inconclusive": 1, "error": 2, "fail": 3}


def judge(*, violations: bool, gaps: bool, judged: bool = True, errors: bool = False) -> Outcome:
    """One judged capture: violations fail it, else a lab error or no analysis makes it an error,
    else counted gaps make it inconclusive."""
    if violations:
        return "fail"
    if errors or not judged:
        return "error"
    return "inconclusive" if gaps else "pass"


def combine(outcomes: Iterable[Outcome]) -> Outcome:
    """Several outcomes as one (the worst); nothing judged at all is an error."""
    return max(outcomes, key=_RANK.__getitem__, default="error")
