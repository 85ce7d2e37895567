"""What a first-boot flow did: the screens it passed, the choices it made, what settings show."""

from __future__ import annotations

from dataclasses import dataclass, field

from devicelab.flows.choices import Choices
from devicelab.model.secret import redact


@dataclass
class Visit:
    """One stay on one screen, and what the flow did there."""

    screen: str
    kind: str
    actions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SettingReading:
    """One setting read back after the flow: what the choice should have written, what is there."""

    namespace: str
    key: str
    expected: str
    actual: str
    source: str  # the toggle it shows, or "finish"

    @property
    def ok(self) -> bool:
        return self.actual == self.expected

    def describe(self) -> str:
        return (f"{self.namespace} {self.key} = {self.actual!r}, expected {self.expected!r} "
                f"({self.source})")


@dataclass
class FlowResult:
    """The outcome of one first boot."""

    family: str
    serial: str
    choices: Choices
    visits: list[Visit] = field(default_factory=list)
    #: toggle name -> the value the flow left it at
    toggles: dict[str, bool] = field(default_factory=dict)
    #: the toggles that are optional data sharing (they follow the consent choice), and their values
    consents: dict[str, bool] = field(default_factory=dict)
    reached_home: bool = False
    seconds: float = 0.0
    settings: list[SettingReading] = field(default_factory=list)

    @property
    def screens(self) -> list[str]:
        """The wizard's screens and dialogs passed, in order."""
        return [v.screen for v in self.visits if v.kind in ("page", "dialog")]

    @property
    def popups(self) -> list[str]:
        """Pop-ups and wait screens met on the way."""
        return [v.screen for v in self.visits if v.kind in ("popup", "wait")]

    @property
    def mismatches(self) -> list[SettingReading]:
        """Settings that do not show what was chosen: a product finding, not a lab failure."""
        return [r for r in self.settings if not r.ok]

    def summary(self) -> str:
        lines = [f"{self.family} on {redact(self.serial)} ({self.choices.describe()}): "
                 f"{'home' if self.reached_home else 'stopped'} after {self.seconds:.2f} s"]
        for visit in self.visits:
            lines.append(f"  {visit.screen} [{visit.kind}]: {'; '.join(visit.actions) or '-'}")
        lines += [f"  setting {r.describe()}{'' if r.ok else '  <-- MISMATCH'}" for r in self.settings]
        return "\n".join(lines)
