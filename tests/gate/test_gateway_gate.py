"""The gate with `--capture gateway` on the virtual lab: every packet from before the flash, no
proxy setting on the handset. Needs CAP_NET_ADMIN (skips, saying so, without it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devicelab.capture.gateway import privilege
from devicelab.virtual.ground_truth import lost_flows, unaccounted_connections

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(privilege.missing()),
                                 reason=f"the gateway needs {', '.join(privilege.missing())} (run as root)")]


def gate(tmp: Path, *args: str, capture: str = "gateway") -> tuple[int, dict, str, Path]:
    out, state = tmp / "out", tmp / "state"  # a lab of its own: its received log is this run's alone
    env = {**os.environ, "DEVICELAB_STATE_DIR": str(state)}
    proc = subprocess.run([sys.executable, "-m", "devicelab", "gate", "--out", str(out), "--window", "120",
                           "--no-allure-html", "--capture", capture, *args],
                          capture_output=True, text=True, timeout=300, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    verdict = json.loads((out / "verdict.json").read_text()) if (out / "verdict.json").exists() else {}
    (received,) = state.glob("virtual/*/received.jsonl")
    return proc.returncode, verdict, proc.stdout + proc.stderr, received


def test_the_leaky_build_fails_behind_the_gateway_and_every_connection_is_accounted(tmp_path: Path) -> None:
    code, verdict, output, received = gate(tmp_path, "--build", "nokia7plus-00WW_3_22C")
    assert code == 1, output
    (handset,) = verdict["handsets"]
    zzhc = [f for f in handset["findings"] if f["host"] == "zzhc.vnet.cn"]
    assert {"imei", "iccid", "imsi"} <= {f["kind"] for f in zzhc}
    assert {f["protocol"] for f in zzhc} == {"http"}
    destinations = {(d["host"], d["protocol"]): d for d in handset["destinations"]}
    assert destinations[("time.android.com", "udp")]["ports"] == [123]
    assert destinations[("time.android.com", "udp")]["bytes_down"] >= 48
    assert destinations[("zzhc.vnet.cn", "dns")]["ports"] == [53]
    assert not destinations[("zzhc.vnet.cn", "tcp")]["approved"]
    assert "imei" in destinations[("zzhc.vnet.cn", "tcp")]["identifiers"]
    out = tmp_path / "out"
    assert list((out / "evidence").glob("*/handset.pcap"))
    # the ground truth: what the virtual internet answered, against the gateway's table and the verdict
    assert unaccounted_connections(out, received) == 0
    assert lost_flows(out, received) == 0
    assert "proxy" not in json.dumps([s for s in verdict["timeline"] if "proxy setting" in s.get("name", "")])
