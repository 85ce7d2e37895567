"""The policy language: rules per identifier, refused catch-alls and contradictions, duplicate keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from devicelab.errors import ConfigError
from devicelab.model.policy import load_policy, resolve_policy

EXAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "policies" / "examples"
TEAM = EXAMPLES / "imei-google-hmd-tls.yaml"


def test_an_identifier_rule_sends_one_kind_only_where_it_says() -> None:
    policy = load_policy(TEAM)
    assert policy.judge("imei", "android.clients.google.com", tls=True) == []
    assert policy.judge("imei", "activation.hmdglobal.com", tls=True) == []
    assert policy.judge("imei", "www.google.com", tls=True) == [
        "identifier-rule: imei may go only to android.clients.google.com, *.hmdglobal.com"]
    assert policy.judge("imei", "activation.hmdglobal.com", tls=False) == ["plain-text: imei must travel inside TLS"]
    assert policy.judge("imei", "zzhc.vnet.cn", tls=False)[0].startswith("forbidden-host: *.vnet.cn")
    # other kinds keep the host rules
    assert policy.judge("android_id", "www.google.com", tls=True) == []
    assert policy.judge("imsi", "android.clients.google.com", tls=True)[0].startswith("kind-not-approved")


def test_a_host_named_only_by_an_identifier_rule_is_approved_for_contact() -> None:
    policy = load_policy(EXAMPLES / "eu-no-advertising-id.yaml")
    assert policy.is_approved("play.googleapis.com")
    assert policy.judge("advertising_id", "www.googleapis.com", tls=True)[0].startswith("identifier-rule")


@pytest.mark.parametrize(("text", "says"), [
    ("approved: [{host: '*', may_receive: [imei]}]", "approved.0.host: '*' approves every host"),
    ("approved: [{host: '*.*', may_receive: []}]", "approves every host"),
    ("identifiers: {imei: {only: ['*']}}", "identifiers.imei.only: '*' sends imei anywhere"),
    ("approved: [{host: zzhc.vnet.cn, may_receive: []}]\nforbidden: [{host: '*.vnet.cn', reason: r}]",
     "'zzhc.vnet.cn' is also forbidden"),
    ("identifiers: {imei: {only: [zzhc.vnet.cn]}}\nforbidden: [{host: zzhc.vnet.cn, reason: r}]",
     "identifiers.imei.only: 'zzhc.vnet.cn' is forbidden"),
    ("approved: []\napproved: [{host: a.example}]", "line 3: invalid YAML: key 'approved' is given twice"),
    ("identifiers: {imei: {only: []}}", "identifiers.imei.only"),
])
def test_a_policy_that_would_weaken_the_gate_is_one_clear_error(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"name: p\n{text}\n")
    with pytest.raises(ConfigError, match=None) as info:
        load_policy(path)
    assert says in str(info.value)
    assert str(info.value).startswith(str(path))


def test_policy_names_and_files_resolve_the_same_everywhere() -> None:
    by_name, path = resolve_policy("global")
    assert path.name == "global.yaml"
    by_file, _ = resolve_policy(str(path))
    assert by_name == by_file
    assert by_name.digest == by_file.digest
    assert load_policy(TEAM).digest != by_name.digest
