"""The privacy verdicts and handsets of one pytest run, gathered on the controller.

Each xdist worker (local or on another USB host) collects what its tests judged and which
handsets it leased; at the end it hands them to the controller through xdist's `workeroutput`,
and the controller writes one `devicelab-verdicts.json` and Allure's `environment.properties`
next to the Allure results of every worker, and prints the verdicts in the terminal summary.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from devicelab.analysis.scan import ScanReport
    from devicelab.handset import Handset

#: the key of our data in xdist's workeroutput
WORKER_KEY = "devicelab"
VERDICTS_FILE = "devicelab-verdicts.json"


@dataclass(frozen=True)
class TestVerdict:
    """One test's privacy verdict on one handset; identifiers appear redacted only."""

    __test__ = False  # a record, not a pytest test class

    test: str
    handset: str
    host: str
    outcome: str  # pass, fail, inconclusive
    violations: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()

    @classmethod
    def of(cls, test: str, handset: Handset, report: ScanReport) -> TestVerdict:
        verdict = report.verdict
        violations = tuple(
            f"{v.host}: {v.finding.kind} {v.finding.redacted} ({v.rule.split(':')[0]})" if v.finding
            else f"{v.host} ({v.rule.split(':')[0]})" for v in verdict.violations)
        gaps = tuple(f"{g.kind}: {g.host or '-'}" for g in verdict.counted_gaps)
        return cls(test, handset.entry.id, handset.entry.usb_host, verdict.outcome, violations, gaps)


@dataclass
class SessionReport:
    """What this process saw; on the controller, what every worker saw."""

    environment: dict[str, str] = field(default_factory=dict)
    verdicts: list[TestVerdict] = field(default_factory=list)

    def payload(self) -> str:
        return json.dumps({"environment": self.environment, "verdicts": [asdict(v) for v in self.verdicts]})

    def merge(self, payload: str) -> None:
        data: dict[str, Any] = json.loads(payload)
        self.environment.update(data.get("environment", {}))
        for item in data.get("verdicts", []):
            self.verdicts.append(TestVerdict(**{**item, "violations": tuple(item.get("violations", ())),
                                                "gaps": tuple(item.get("gaps", ()))}))

    def write(self, alluredir: Path) -> None:
        alluredir.mkdir(parents=True, exist_ok=True)
        if self.environment:
            lines = [f"{k}={v}" for k, v in sorted(self.environment.items())]
            (alluredir / "environment.properties").write_text("\n".join(lines) + "\n")
        if self.verdicts:
            # one line per verdict, however often a worker reported it
            ordered = sorted(dict.fromkeys(self.verdicts), key=lambda v: (v.test, v.handset))
            (alluredir / VERDICTS_FILE).write_text(json.dumps([asdict(v) for v in ordered], indent=2) + "\n")

    def summary(self) -> list[str]:
        lines = []
        for v in sorted(dict.fromkeys(self.verdicts), key=lambda v: (v.outcome == "pass", v.test)):
            lines.append(f"{v.outcome.upper():<12} {v.handset} on {v.host}  {v.test}")
            lines += [f"    {what}" for what in (*v.violations, *v.gaps)]
        return lines


SESSION = pytest.StashKey[SessionReport]()
EVIDENCE = pytest.StashKey[Path]()
#: workerinput key: the controller names the run's evidence folder once for every xdist worker
EVIDENCE_KEY = "devicelab_out"


def session_report(config: pytest.Config) -> SessionReport:
    return config.stash.setdefault(SESSION, SessionReport())


def evidence_dir(config: pytest.Config) -> Path:
    """Where this run keeps each judged test's evidence and the verdicts (--devicelab-out; by
    default a new reports/suites/RUN_TIME), the same for every xdist worker."""
    if EVIDENCE not in config.stash:
        given = config.getoption("--devicelab-out", None)
        from_controller = getattr(config, "workerinput", {}).get(EVIDENCE_KEY)
        config.stash[EVIDENCE] = Path(given or from_controller or
                                      Path("reports") / "suites" / datetime.now().strftime("%Y%m%d-%H%M%S-%f"))
    return config.stash[EVIDENCE]


class XdistHooks:
    """Registered only when xdist is there: its hook would be unknown otherwise."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[EVIDENCE_KEY] = str(evidence_dir(self.config))

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        payload = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if payload:
            session_report(self.config).merge(payload)
