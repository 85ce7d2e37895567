from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devicelab.capture.config import CaptureConfig, HostRule
from devicelab.errors import ConfigError
from devicelab.model.policy import Policy


@pytest.mark.parametrize(("options", "field", "problem"), [
    ({"mode": "transparent"}, "mode", "expected one of regular, wireguard"),
    ({"connection_strategy": "lazzy"}, "connection_strategy", "expected lazy or eager"),
    ({"connection_strategy": "eager", "sinkhole": HostRule(("x.test",))}, "connection_strategy", "needs 'lazy'"),
    ({"listen_host": "localhost"}, "listen_host", "expected an IP address"),
    ({"listen_host": "0.0.0.0"}, "advertise_host", "required when listening on 0.0.0.0"),
    ({"max_body_bytes": 0}, "max_body_bytes", "positive number of bytes"),
    ({"start_timeout": -1}, "start_timeout", "positive seconds"),
    ({"upstream_hosts": {"a.test": ("nowhere", 80)}}, "upstream_hosts.a.test", "expected an IP address"),
    ({"upstream_hosts": {"a.test": ("127.0.0.1", 0)}}, "upstream_hosts.a.test", "port 1-65535"),
    ({"upstream_hosts": {"a.test": "127.0.0.1:80"}}, "upstream_hosts.a.test", "expected (ip, port)"),
    ({"upstream_ca": Path("/nonexistent/ca.pem")}, "upstream_ca", "is not a file"),
    ({"canary_host": "*.test"}, "canary_host", "lower-case host name"),
])
def test_bad_options_name_the_option(options: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CaptureConfig(**options).check()
    assert caught.value.field == field
    assert problem in caught.value.problem


def test_good_options_pass_and_dial_the_advertised_host() -> None:
    config = CaptureConfig(listen_host="0.0.0.0", advertise_host="192.168.0.100").check()
    assert config.dial_host == "192.168.0.100"
    assert CaptureConfig().check().dial_host == "127.0.0.1"


def test_host_rules_from_globs_and_from_a_policy() -> None:
    rule = HostRule(("*.vnet.cn", "tracker.example"))
    assert rule.matches("zzhc.vnet.cn")
    assert rule.matches("ZZHC.VNET.CN.")
    assert not rule.matches("vnet.cn")
    assert rule.matches("tracker.example:8080")
    assert not rule.matches("")
    policy = Policy.model_validate({"name": "p", "approved": [{"host": "*.google.com", "may_receive": ["imei"]}],
                                    "forbidden": [{"host": "zzhc.vnet.cn", "reason": "ZZHC"}]})
    unapproved = HostRule.unapproved_by(policy)
    assert unapproved.matches("zzhc.vnet.cn")
    assert unapproved.matches("example.org")
    assert not unapproved.matches("android.clients.google.com")
    assert "unapproved by p" in unapproved.describe()
    with pytest.raises(ConfigError, match="not a host name or glob"):
        HostRule(("bad host",))


def test_adb_reverse_carries_a_regular_proxy_and_is_not_asked_of_a_gateway_run() -> None:
    """A USB lab's inventory says `adb_reverse: true`; `gate --capture gateway` on that lab reaches
    its capture by the network, and must not be refused for it (make demo runs exactly that)."""
    from devicelab.model.inventory import ProxySpec, UpstreamRouting

    spec = ProxySpec(adb_reverse=True)
    assert CaptureConfig.for_lab(spec, UpstreamRouting(), label="h").adb_reverse is True
    for mode in ("gateway", "wireguard"):
        assert CaptureConfig.for_lab(spec, UpstreamRouting(), label="h", mode=mode).adb_reverse is False
    with pytest.raises(ConfigError, match="adb_reverse"):  # asked for outright, it is still refused
        CaptureConfig(mode="gateway", adb_reverse=True).check()
