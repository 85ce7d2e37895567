"""A team's own rule, "the IMEI only to Google checkin and HMD, over TLS", written as a rule per
identifier, gates the 2019 builds as it should; a catch-all rule is refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gate.test_gate import gate

TEAM = Path(__file__).resolve().parents[2] / "fixtures" / "policies" / "examples" / "imei-google-hmd-tls.yaml"


def test_the_team_rule_fails_the_leaky_build_on_the_imei(tmp_path: Path) -> None:
    code, verdict, output = gate(tmp_path / "leaky", "--build", "nokia7plus-00WW_3_22C", "--sim", "telenor-no",
                                 "--policy", str(TEAM))
    assert code == 1, output
    (handset,) = verdict["handsets"]
    rules = {(v["host"], v["kind"], v["rule"].split(":")[0]) for v in handset["violations"]}
    assert ("zzhc.vnet.cn", "imei", "forbidden-host") in rules
    assert verdict["policy"]["name"] == "imei-google-hmd-tls"
    assert len(verdict["policy"]["sha256"]) == 64


@pytest.mark.slow
def test_the_team_rule_judges_the_fixed_build_on_what_was_read(tmp_path: Path) -> None:
    code, verdict, output = gate(tmp_path / "fixed", "--build", "nokia7plus-00WW_3_22C_SP05", "--sim",
                                 "telenor-no", "--policy", "examples/imei-google-hmd-tls")
    (handset,) = verdict["handsets"]
    assert handset["violations"] == [], output
    assert code in (0, 2), output  # pass, or inconclusive where TLS went unread: never a violation


def test_a_catch_all_rule_is_refused_before_the_lab_starts(tmp_path: Path) -> None:
    catch_all = tmp_path / "anything.yaml"
    catch_all.write_text("name: anything\napproved:\n  - host: '*'\n    may_receive: [imei, imsi, iccid]\n")
    code, verdict, output = gate(tmp_path / "out", "--build", "nokia7plus-00WW_3_22C", "--policy", str(catch_all))
    assert code == 3
    assert "approved.0.host: '*' approves every host" in output
    assert verdict == {}
