"""`devicelab gate`: the privacy gate a release runs before an OTA ships.

    lease -> flash (or flash --from, then update) -> factory reset -> first boot with the
    privacy-conscious choices -> activation triggers -> observation window (device time) ->
    analysis -> verdict, and the reports under --out.

Exit codes: 0 pass, 1 fail, 2 inconclusive, 3 infrastructure error.
"""

from devicelab.gate.options import GateOptions
from devicelab.gate.run import run_gate

__all__ = ["GateOptions", "run_gate"]
