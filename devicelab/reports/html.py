"""The run as one self-contained HTML page: inline CSS, no script, no external fetch, readable offline.

Everything in the page comes from the run record through Jinja2 with autoescaping on: a host,
URL or body that carries markup is shown as text. Only the ⟦markers⟧ of redacted identifiers
get markup (`<mark>`), added after escaping.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from devicelab.reports.checks import run_checks
from devicelab.model.outcome import Outcome
from devicelab.model.policy import DERIVED_KIND
from devicelab.reports.model import FindingRecord, RunRecord, leaks
from devicelab.reports.redaction import MARKER

HTML_FILE = "report.html"
TEMPLATES = Path(__file__).resolve().parent / "templates"
MEANING: dict[Outcome, str] = {
    "pass": "No personal data reached a host the policy does not allow; all traffic to other hosts was inspected.",
    "fail": "Personal data reached a host the policy does not allow, or a forbidden host was contacted: "
            "this build must not ship as it is.",
    "inconclusive": "No violation was seen, but part of the traffic could not be inspected: "
                    "this is not a pass, and the gaps below say what to fix.",
    "error": "The lab failed before the build could be judged: rerun it. This says nothing about the build.",
}


@dataclass
class FindingRow:
    """Findings that look the same (kind, value, place, app, transport) on one host, counted."""

    example: FindingRecord
    flows: set[tuple[str, str, int]] = field(default_factory=set)  # (handset, source, flow index)
    handsets: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)


@dataclass
class HostGroup:
    host: str
    rows: list[FindingRow] = field(default_factory=list)
    plain: bool = False
    violating: bool = False


@dataclass
class Contact:
    app: str
    host: str
    transport: str
    count: int = 0
    size: int = 0
    handsets: set[str] = field(default_factory=set)


def finding_groups(run: RunRecord, *, derived: bool = False) -> list[HostGroup]:
    """Findings of every handset, grouped by host (violating hosts first) and folded into rows.
    `derived`: only a differential run's `identity_derived` findings (their own section); else the others."""
    groups: dict[str, HostGroup] = {}
    rows: dict[tuple[str, str, str, str, tuple[str, ...], str | None, bool], FindingRow] = {}
    for result in run.handsets:
        rules: dict[int, set[str]] = defaultdict(set)
        for v in result.violations:
            if v.finding is not None:
                rules[v.finding].add(v.rule_type)
        for i, f in enumerate(result.findings):
            if (f.kind == DERIVED_KIND) != derived:
                continue
            group = groups.setdefault(f.host, HostGroup(f.host))
            key = (f.host, f.kind, f.identifier, f.location, f.decoders, f.app, f.tls)
            row = rows.get(key)
            if row is None:
                row = rows[key] = FindingRow(f)
                group.rows.append(row)
            row.flows.add((result.handset.id, f.source, f.flow_index))
            row.handsets.add(result.handset.id)
            row.rules |= rules[i]
            group.plain |= not f.tls
            group.violating |= bool(rules[i])
    # The worst first: hosts that broke the policy, in plain text, with the most kinds of identifier.
    return sorted(groups.values(), key=lambda g: (not g.violating, not g.plain,
                                                  -len({r.example.kind for r in g.rows}), g.host))


#: what a plain (unencrypted) flow was, by scheme; HTTP is simply "plain"
PLAIN_TRANSPORT = {"dns": "plain, DNS query", "udp": "plain, UDP", "tcp": "plain, raw TCP"}


def contacts(run: RunRecord) -> list[Contact]:
    """Hosts contacted per app, over every handset."""
    table: dict[tuple[str, str, str], Contact] = {}
    for result in run.handsets:
        for group in result.flows:
            transport = (("TLS, not decrypted" if group.undecrypted else "TLS") if group.tls
                         else PLAIN_TRANSPORT.get(group.scheme, "plain"))
            key = (group.app or "", group.host, transport)
            contact = table.setdefault(key, Contact(group.app or "", group.host, transport))
            contact.count += group.count
            contact.size += group.bytes
            contact.handsets.add(result.handset.id)
    return sorted(table.values(), key=lambda c: (c.app == "", c.app, c.host))


def marked(text: str) -> Markup:
    """Escaped text with the ⟦markers⟧ of redacted identifiers highlighted."""
    escaped = str(escape(text))
    return Markup(MARKER.sub(lambda m: f'<mark class="id">{m.group(0)}</mark>', escaped))  # noqa: S704


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover - the loop always returns


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment is not None else "-"


def clock(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment is not None else "-"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters |= {"marked": marked, "size": size, "when": when, "clock": clock, "seconds": seconds,
                    "host": host_name, "breakable": breakable, "rule_label": rule_label}
    env.globals["leaks"] = leaks
    return env


def _devicelab_version() -> str:
    try:
        return version("devicelab")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "dev"


@dataclass
class ViolationGroup:
    """Everything one host got that it should not have: what, how, from which apps, which rules."""

    host: str
    identifiers: set[tuple[str, str]] = field(default_factory=set)  # (kind, redacted value)
    transports: set[bool] = field(default_factory=set)
    apps: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)
    flows: set[tuple[str, str, int]] = field(default_factory=set)
    handsets: set[str] = field(default_factory=set)


_RULE_TITLES = {"forbidden-host": "Forbidden host", "unapproved-host": "Unapproved host",
                "identity-derived": "Identity-derived data to a host that may receive no identifier",
                "review-derived": "Identity-derived data: review required",
                "kind-not-approved": "Identifier not approved for this host", "plain-text": "Plain text"}


def rule_label(rule: str) -> tuple[str, str]:
    """'plain-text: personal data must travel inside TLS' -> ('Plain text', 'personal data must travel inside TLS')."""
    kind, _, text = rule.partition(": ")
    if kind == "forbidden-host":
        text = text.partition(" (")[2].removesuffix(")") or text
    return _RULE_TITLES.get(kind, kind), text


def violation_groups(run: RunRecord) -> list[ViolationGroup]:
    groups: dict[str, ViolationGroup] = {}
    for result in run.handsets:
        for v in result.violations:
            group = groups.setdefault(v.host, ViolationGroup(v.host))
            finding = result.findings[v.finding] if v.finding is not None else None
            if finding is not None:
                group.identifiers.add((finding.kind, finding.identifier))
                group.transports.add(finding.tls)
                group.apps.add(finding.app or "(app unknown)")
            group.rules.add(v.rule)
            group.flows.add((result.handset.id, v.source, v.flow_index))
            group.handsets.add(result.handset.id)
    return sorted(groups.values(), key=lambda g: (-len(g.identifiers), not any(not t for t in g.transports), g.host))


_GAP_WORDS = {
    "tls_undecrypted": "TLS that the lab could not decrypt", "capture_incomplete": "the capture stopped early",
    "canary_failed": "the planted canary was not seen", "unproxied_connection": "traffic that bypassed the proxy",
    "empty_capture": "nothing was captured",
    "name_mismatch": "a client that named one host and connected to another",
    "empty_capture": "nothing was captured", "body_truncated": "a body cut at the capture's size limit",
    "decode_limit": "a body the analysis stopped decoding at a limit",
    "ca_not_installed": "the lab's CA was not trusted, so TLS stayed closed",
    "identity_unread": "an identifier the lab could not read", "identity_implausible": "an implausible identifier",
    "handset_error": "a handset whose run broke off",
}


def reasons(run: RunRecord, limit: int = 4) -> list[str]:
    """Why the run got its verdict, in a few lines for the banner."""
    outcome = run.outcome
    lines: list[str] = []
    if outcome == "fail":
        for g in violation_groups(run):
            kinds = sorted({kind for kind, _ in g.identifiers})
            rules = ", ".join(sorted({rule_label(r)[0].lower() for r in g.rules}))
            what = f"received {', '.join(kinds)}" if kinds else "was contacted"
            lines.append(f"{g.host} {what} ({rules})")
    elif outcome == "error":
        lines += [f"{e.handset or 'run'}, {e.step or e.type}: {e.message}" for e in run.infra_errors]
        lines += [f"{s.handset or 'run'}, {s.name}: {s.message or 'failed'}" for s in run.timeline
                  if s.status == "failed" and not any(e.handset == s.handset and e.step == s.name
                                                      for e in run.infra_errors)]
        if not run.handsets:
            lines.append("no handset was tested")
        lines += [f"{r.handset.id}: no capture was analysed" for r in run.handsets
                  if not r.judged and not run.errors_of(r.handset.id)]
    elif outcome == "inconclusive":
        for r in run.handsets:
            for gap in r.coverage.counted_gaps:
                where = f" ({gap.host})" if gap.host else ""
                lines.append(f"{r.handset.id}: {_GAP_WORDS.get(gap.kind, gap.kind)}{where}")
    unique = list(dict.fromkeys(lines))
    return unique[:limit] + ([f"… and {len(unique) - limit} more below"] if len(unique) > limit else [])


def host_name(host: str) -> Markup:
    """An escaped host name that may wrap after its dots only."""
    return Markup(".<wbr>".join(str(escape(part)) for part in host.split(".")))  # noqa: S704


def breakable(text: str) -> Markup:
    """Escaped text that may wrap after '/' and ':' (build fingerprints, paths)."""
    return Markup(re.sub(r"([/:])", r"\1<wbr>", str(escape(text))))  # noqa: S704


def to_html(run: RunRecord) -> str:
    """The report page."""
    template = environment().get_template("report.html.j2")
    checks = run_checks(run)
    return template.render(
        run=run, outcome=run.outcome, meaning=MEANING[run.outcome], reasons=reasons(run), groups=finding_groups(run),
        derived=finding_groups(run, derived=True),
        contacts=contacts(run), violations=violation_groups(run), checks=checks,
        violation_count=sum(leaks(r.violations) for r in run.handsets),
        lab_checks=[c for c in checks if c.id.startswith("lab:")], version=_devicelab_version(),
        css=stylesheet(),
    )


def stylesheet() -> Markup:
    """The report's CSS, inlined (our own file: never data from the run)."""
    return Markup((TEMPLATES / "report.css").read_text(encoding="utf-8"))  # noqa: S704
