"""Clients modelled as data, gated behind the lab gateway (and a QA build file in both capture
modes). Needs CAP_NET_ADMIN for the gateway runs (they skip, saying so, without it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devicelab.capture.gateway import privilege
from tests.gate.test_gateway_gate import gate

pytestmark = pytest.mark.slow
needs_gateway = pytest.mark.skipif(bool(privilege.missing()),
                                   reason=f"the gateway needs {', '.join(privilege.missing())} (run as root)")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "builds"


@needs_gateway
def test_a_dns_exfil_client_fails_on_its_query(tmp_path: Path) -> None:
    code, verdict, output, _ = gate(tmp_path, "--build", "nokia7plus-00WW_3_22C_SP05-dnsexfil")
    assert code == 1, output
    (handset,) = verdict["handsets"]
    dns = [f for f in handset["findings"] if f["protocol"] == "dns" and f["kind"] == "imei"]
    assert dns
    assert all("hex" in f["decoders"] for f in dns)  # the name carried it hex-encoded
    assert all(f["host"].endswith(".t.exfil-tracker.example") and "⟦imei" in f["host"] for f in dns)
    assert "353911" not in output  # the name carried the IMEI: nothing prints it, plain or hex
    assert "333533393131" not in output


@needs_gateway
def test_a_quic_first_client_falls_back_to_tcp_and_a_quic_only_one_is_a_gap(tmp_path: Path) -> None:
    _, verdict, output, _ = gate(tmp_path / "first", "--build", "nokia7plus-00WW_3_22C_SP05-quic")
    table = json.loads(next((tmp_path / "first" / "out" / "evidence").glob("*/connections.json")).read_text())
    host = "telemetry.quic-tracker.example"
    rows = [r for r in table["connections"] if r["host"] == host]
    assert {(r["proto"], r["remote"].rpartition(":")[2], r["account"]) for r in rows} >= {
        ("udp", "443", "quic"), ("tcp", "443", "read")}
    assert not [g for g in verdict["handsets"][0]["coverage"]["gaps"] if g["kind"] == "quic_without_fallback"]
    code, verdict, output, _ = gate(tmp_path / "only", "--build", "nokia7plus-00WW_3_22C_SP05-quiconly")
    assert code == 2, output  # inconclusive, never a pass
    gaps = [g for g in verdict["handsets"][0]["coverage"]["gaps"] if g["kind"] == "quic_without_fallback"]
    assert gaps
    assert all(g["host"] == host and g["counts"] for g in gaps)


@needs_gateway
def test_an_ntp_client_and_a_raw_tcp_client_are_destinations(tmp_path: Path) -> None:
    _, verdict, _, _ = gate(tmp_path / "ntp", "--build", "nokia7plus-00WW_3_22C_SP05-ntp")
    ntp = {(d["host"], d["protocol"]): d for d in verdict["handsets"][0]["destinations"]}
    assert ntp[("time.hmdglobal.com", "udp")]["bytes_down"] >= 48
    code, verdict, output, _ = gate(tmp_path / "tcp", "--build", "nokia7plus-00WW_3_22C_SP05-rawtcp")
    assert code == 1, output
    raw = [f for f in verdict["handsets"][0]["findings"] if f["host"] == "beacon.rawtcp-tracker.example"]
    assert {("imei", "tcp"), ("serial", "tcp")} <= {(f["kind"], f["protocol"]) for f in raw}


@pytest.mark.parametrize("mode", ["regular", pytest.param("gateway", marks=needs_gateway)])
def test_a_build_file_outside_fixtures_leaking_through_gzip_and_base64_fails(tmp_path: Path, mode: str) -> None:
    seed = (FIXTURES / "nokia7plus-00WW_3_22C_SP05.yaml").read_text()
    text = seed.replace("name: nokia7plus-00WW_3_22C_SP05", "name: qa-acme-tracker") + """\
  - name: acme-tracker
    package: com.evenwell.dataagent
    payload: template
    url: http://collect.acme-tracker.example/v1/events
    template:
      format: json
      fields: {d: "{imei|gzip|base64}", v: "{build}"}
    triggers: [{event: boot, delay: 3}]
"""
    build = tmp_path / "qa-acme-tracker.yaml"
    build.write_text(text)
    code, verdict, output, _ = gate(tmp_path, "--build", str(build), capture=mode)
    assert code == 1, output
    found = [f for f in verdict["handsets"][0]["findings"] if f["host"] == "collect.acme-tracker.example"]
    assert {(f["kind"], tuple(f["decoders"])) for f in found} == {("imei", ("json", "base64", "gzip"))}
    assert {v["rule"].split(":")[0] for v in verdict["handsets"][0]["violations"]
            if v["host"] == "collect.acme-tracker.example"} == {"unapproved-host", "plain-text"}
