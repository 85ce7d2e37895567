"""`devicelab repro REPORT.yaml`: reproduce a reported leak by running build x SIM x trigger until
it shows, with the suspected host sinkholed so the reproduction does not leak again."""

from devicelab.repro.model import LeakReport, load_report
from devicelab.repro.run import Attempt, ReproResult, reproduce

__all__ = ["Attempt", "LeakReport", "ReproResult", "load_report", "reproduce"]
