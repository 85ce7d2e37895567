"""Privacy policy as data (`fixtures/policies/*.yaml`): which hosts may receive which identifiers.

    name: global
    regions: [ww]
    tls_required: true            # personal data only inside TLS, unless a rule says otherwise
    approved:
      - host: android.clients.google.com
        may_receive: [imei, meid, serial, android_id, wifi_mac]
    forbidden:
      - host: zzhc.vnet.cn
        reason: China Telecom self-registration; must not run outside China

Opaque traffic (TLS left closed, a connection around the proxy, a body cut short, a decode limit)
to a host is a counted gap, approved hosts included: nothing proves what it carried. A rule may
accept it by name, with the reason shown in every report:

      - host: push.hmdglobal.com
        may_receive: []
        accept_blind: "pins its key: no lab CA opens it; HMD's push token only (vendor statement)"

Host patterns are globs on the host name, case-insensitive: `*.google.com` matches
`android.clients.google.com` but not `google.com`. A forbidden host fails the run when it is
contacted at all, even with nothing found in the traffic.

Rules per identifier say where one kind may go, whatever the host rules say of other kinds:

    identifiers:
      imei: {only: [android.clients.google.com, "*.hmdglobal.com"], tls: required}

An identifier with such a rule may reach only those hosts (and only inside TLS with `tls:
required`); the hosts it names count as approved for it. A rule that approves every host
(`host: "*"`) is refused: it would also make every connection's unread traffic acceptable.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field, model_validator

from devicelab.errors import ConfigError
from devicelab.model.builds import FIXTURES, Build
from devicelab.model.data import Frozen, load
from devicelab.model.identity import ALL_KINDS

Kind = Literal[
    "imei", "meid", "imsi", "iccid", "msisdn", "serial", "wifi_mac", "bt_mac",
    "android_id", "advertising_id", "email", "cell_id", "location",
]
if set(get_args(Kind)) != set(ALL_KINDS):  # pragma: no cover - the two lists must not drift apart
    raise RuntimeError("policy.Kind and identity.ALL_KINDS differ")

_HOST_PATTERN = re.compile(r"[a-z0-9*?]([a-z0-9*?.-]*[a-z0-9*?])?")

POLICIES_DIR = FIXTURES / "policies"
#: A finding of a value that follows the handset's identity in an unknown encoding (differential runs)
DERIVED_KIND = "identity_derived"


def _host_pattern(value: str) -> str:
    value = value.strip().lower()
    if not _HOST_PATTERN.fullmatch(value):
        raise ValueError("expected a host name or glob: letters, digits, '.', '-', '*' and '?'")
    return value


HostPattern = Annotated[str, AfterValidator(_host_pattern)]


def normalize_host(host: str) -> str:
    """Lower case, without a trailing dot, port or IPv6 brackets."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host


def host_matches(pattern: str, host: str) -> bool:
    return fnmatch.fnmatchcase(normalize_host(host), pattern)


class ApprovedHost(Frozen):
    """A host allowed to receive some identifier kinds."""

    host: HostPattern
    may_receive: tuple[Kind, ...] = ()
    tls_required: bool | None = None  # None: the policy's default
    note: str = ""
    #: why traffic to this host that the capture cannot read is accepted ("" = it is a counted gap)
    accept_blind: str = ""


class IdentifierRule(Frozen):
    """Where one identifier kind may go: only these hosts, and whether inside TLS only."""

    only: tuple[HostPattern, ...] = Field(min_length=1)
    tls: Literal["required", "optional"] | None = None  # None: the policy's tls_required
    note: str = ""

    def allows(self, host: str) -> bool:
        return any(host_matches(pattern, host) for pattern in self.only)


def _catch_all(pattern: str) -> bool:
    """`*`, `*.*`, `?*`: a pattern every host name matches."""
    return set(pattern) <= {"*", "?", "."} and "*" in pattern


class ForbiddenHost(Frozen):
    """A host that must not be contacted at all."""

    host: HostPattern
    reason: str


class Policy(Frozen):
    """What one region or SKU allows."""

    name: str = Field(min_length=1)
    description: str = ""
    regions: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    tls_required: bool = True
    approved: tuple[ApprovedHost, ...] = ()
    forbidden: tuple[ForbiddenHost, ...] = ()
    identifiers: dict[Kind, IdentifierRule] = Field(default_factory=dict)
    #: identity-derived data to an approved host is shown; with this it also needs review (a violation)
    review_derived: bool = False

    @model_validator(mode="after")
    def _coherent(self) -> Policy:
        for index, rule in enumerate(self.approved):
            if _catch_all(rule.host):
                raise ValueError(f"approved.{index}.host: {rule.host!r} approves every host, and with it every "
                                 "connection the capture could not read; name the hosts, or say where one "
                                 "identifier may go with `identifiers:` (e.g. imei: {only: [...]})")
            clash = self.forbidden_rule(rule.host) if "*" not in rule.host and "?" not in rule.host else next(
                (f for f in self.forbidden if f.host == rule.host), None)
            if clash is not None:
                raise ValueError(f"approved.{index}.host: {rule.host!r} is also forbidden ({clash.host}): "
                                 "a host is approved or forbidden, not both")
        for kind, id_rule in self.identifiers.items():
            for pattern in id_rule.only:
                if _catch_all(pattern):
                    raise ValueError(f"identifiers.{kind}.only: {pattern!r} sends {kind} anywhere: name the hosts")
                clash = self.forbidden_rule(pattern) if "*" not in pattern else None
                if clash is not None:
                    raise ValueError(f"identifiers.{kind}.only: {pattern!r} is forbidden ({clash.host})")
        return self

    def forbidden_rule(self, host: str) -> ForbiddenHost | None:
        return next((rule for rule in self.forbidden if host_matches(rule.host, host)), None)

    def approved_rules(self, host: str) -> list[ApprovedHost]:
        return [rule for rule in self.approved if host_matches(rule.host, host)]

    def is_approved(self, host: str) -> bool:
        if self.forbidden_rule(host) is not None:
            return False
        return bool(self.approved_rules(host)) or any(rule.allows(host) for rule in self.identifiers.values())

    def blind_accepted(self, host: str) -> str | None:
        """The reason a rule gives for accepting unread traffic to `host`; None when it is a gap."""
        if not host or self.forbidden_rule(host) is not None:
            return None
        return next((rule.accept_blind for rule in self.approved_rules(host) if rule.accept_blind.strip()), None)

    def judge(self, kind: str, host: str, tls: bool) -> list[str]:
        """The rules an identifier of `kind` sent to `host` breaks (empty when allowed)."""
        if kind == DERIVED_KIND:
            return self._judge_derived(host, tls)
        id_rule = self.identifiers.get(kind)  # type: ignore[call-overload]
        if id_rule is not None:
            return self._judge_identifier(kind, id_rule, host, tls)
        broken: list[str] = []
        forbidden = self.forbidden_rule(host)
        allowing = [rule for rule in self.approved_rules(host) if kind in rule.may_receive]
        if forbidden is not None:
            broken.append(f"forbidden-host: {forbidden.host} ({forbidden.reason})")
        elif not self.approved_rules(host):
            broken.append("unapproved-host: no rule approves this host")
        elif not allowing:
            broken.append(f"kind-not-approved: no rule lets this host receive {kind}")
        tls_required = self.tls_required
        if allowing and forbidden is None:  # plain text is fine when one rule that allows the kind says so
            tls_required = all(self.tls_required if r.tls_required is None else r.tls_required for r in allowing)
        if tls_required and not tls:
            broken.append("plain-text: personal data must travel inside TLS")
        return broken


    def _judge_derived(self, host: str, tls: bool) -> list[str]:
        """Which identifier it is nobody knows: a host that may receive none must not get it."""
        forbidden = self.forbidden_rule(host)
        if forbidden is not None:
            return [f"forbidden-host: {forbidden.host} ({forbidden.reason})"]
        receives = any(rule.may_receive for rule in self.approved_rules(host)) or any(
            rule.allows(host) for rule in self.identifiers.values())
        broken = [] if receives else ["identity-derived: this host may receive no identifier"]
        if receives and self.review_derived:
            broken.append("review-derived: identity-derived data to an approved host needs review")
        if self.tls_required and not tls:
            broken.append("plain-text: personal data must travel inside TLS")
        return broken

    def _judge_identifier(self, kind: str, rule: IdentifierRule, host: str, tls: bool) -> list[str]:
        broken: list[str] = []
        forbidden = self.forbidden_rule(host)
        if forbidden is not None:
            broken.append(f"forbidden-host: {forbidden.host} ({forbidden.reason})")
        elif not rule.allows(host):
            broken.append(f"identifier-rule: {kind} may go only to {', '.join(rule.only)}")
        tls_required = self.tls_required if rule.tls is None else rule.tls == "required"
        if tls_required and not tls:
            broken.append(f"plain-text: {kind} must travel inside TLS")
        return broken

    @property
    def digest(self) -> str:
        """sha256 of the policy as loaded: verdict.json names exactly what judged the run."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


#: No --policy: nothing is approved, so any identifier that leaves the handset is a violation.
STRICT = Policy(name="strict (no policy given: no host approved)")


def load_policy(path: Path) -> Policy:
    """Read a policy file; the first bad field raises ConfigError naming it."""
    return load(Policy, path)


def resolve_policy(explicit: str) -> tuple[Policy, Path]:
    """--policy, the same in every command and the pytest plugin: a file, or a name in fixtures/policies/."""
    path = Path(explicit)
    if not path.exists() and not path.suffix:
        path = POLICIES_DIR / f"{explicit}.yaml"
    return load_policy(path), path


def policy_for(build: Build, explicit: str | None) -> tuple[Policy, Path]:
    """The policy file given, or the one in fixtures/policies/ whose skus list the build's SKU."""
    if explicit is not None:
        return resolve_policy(explicit)
    for path in sorted(POLICIES_DIR.glob("*.yaml")):
        policy = load_policy(path)
        if build.sku in policy.skus:
            return policy, path
    raise ConfigError(str(POLICIES_DIR), "skus", f"no policy lists SKU {build.sku!r}; pass --policy")
