"""Security of a real gate run on its own virtual lab (the leaky 2019 build, so identifiers are
really on the wire): no CA private key anywhere in the output folder, no raw identifier in a
report file, and every socket the run listens on bound to loopback."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from devicelab.model.sims import load_sim
from devicelab.virtual.chaos import lab_state, run_once

LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def _listening(pids: list[int]) -> list[tuple[str, int, bool]]:
    """(address hex, port, owned by one of `pids`) for every TCP socket in LISTEN state."""
    inodes: set[str] = set()
    for pid in pids:
        with_fds = Path(f"/proc/{pid}/fd")
        for fd in with_fds.iterdir() if with_fds.exists() else ():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            address, port = cols[1].split(":")
            if cols[3] == "0A":
                found.append((address, int(port, 16), cols[9] in inodes))
    return found


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int | None, Path, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def probe(state: Path, gate_pid: int) -> None:
        info = lab_state(state)
        seen["state"] = info
        seen["listening"] = _listening([gate_pid, int(str(info["pid"]))])

    workdir = tmp_path_factory.mktemp("secure")
    result = run_once(None, 180, workdir, build="nokia7plus-00WW_3_22C", probe=probe)
    seen["detail"] = result.detail
    return result.code, workdir / "out", seen


def _raw_identifiers(state: dict[str, Any]) -> set[str]:
    sim = load_sim("telenor-no")
    found = {sim.iccid, sim.imsi, sim.msisdn, sim.msisdn.lstrip("+")}
    for handset in state["handsets"]:
        found |= set(handset.get("imei", ())) | {handset["serialno"]}
        for mac in (handset.get("wifi_mac"), handset.get("bt_mac")):
            if mac:
                found |= {mac.lower(), mac.upper(), mac.replace(":", "").lower(), mac.replace(":", "").upper()}
    return {str(f) for f in found if f}


def test_the_leaky_run_failed_and_the_probe_saw_the_lab(leaky_run: tuple[int | None, Path, dict[str, Any]]) -> None:
    code, out, seen = leaky_run
    assert code == 1, (out.parent / "gate.log").read_text()
    assert "probe failed" not in seen["detail"], seen["detail"]
    assert seen["state"]["handsets"], "the probe must have read the running lab"


def test_no_private_key_anywhere_under_the_output_folder(leaky_run: tuple[int | None, Path, dict[str, Any]]) -> None:
    _code, out, _seen = leaky_run
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "verdict.json" for p in files)
    for path in files:
        assert b"PRIVATE KEY-----" not in path.read_bytes(), path
        assert not re.search(r"\.(p12|pfx|key|jks)$", path.name), path


def test_no_raw_identifier_in_any_report_file(leaky_run: tuple[int | None, Path, dict[str, Any]]) -> None:
    _code, out, seen = leaky_run
    needles = _raw_identifiers(seen["state"])
    assert len(needles) >= 5
    evidence = out / "evidence"
    reports = [p for p in out.rglob("*") if p.is_file() and not p.is_relative_to(evidence)
               and not p.is_relative_to(out / "allure-report")]
    assert len(reports) >= 3
    for path in reports:
        text = path.read_bytes().decode("utf-8", "replace")
        leaked = sorted(n for n in needles if n in text)
        assert not leaked, f"{path.relative_to(out)} holds raw identifiers {leaked}"


def test_the_run_listens_on_loopback_only(leaky_run: tuple[int | None, Path, dict[str, Any]]) -> None:
    _code, _out, seen = leaky_run
    adb_ports = {int(h["adb_server_port"]) for h in seen["state"]["handsets"]}
    ours = [(address, port) for address, port, owned in seen["listening"] if owned or port in adb_ports]
    assert any(port in adb_ports for _a, port in ours), "the run's adb server must be listening"
    assert len(ours) >= 3, ours  # the proxy, the adb server, the lab's adbd/fastboot/hosts
    exposed = [(address, port) for address, port in ours if address not in LOOPBACK]
    assert not exposed, f"listening beyond loopback: {exposed}"
