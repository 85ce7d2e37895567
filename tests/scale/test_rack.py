"""A rack of two USB hosts on labgrid: a coordinator and one exporter per host on loopback, the
virtual lab's four handsets split over the hosts (each host its own adb server), and two gate
runs at once contending for them."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devicelab.lab.lab import Lab
from devicelab.lab.labgrid_allocator import LabgridAllocator, LabgridClient, LabgridError, client_executable
from devicelab.lab.labgrid_export import exporter_configs
from devicelab.model.inventory import AdbServerSpec
from devicelab.reports.verdict_json import read_run
from devicelab.testing.session_report import VERDICTS_FILE
from tests.lab.conftest import free_port
from tests.scale.conftest import _start, _stop, _until
from tests.scale.test_labgrid_allocator import acquired_places, reservations

BUILD = "nokia7plus-00WW_3_22C_SP05"
#: why the user build cannot pass in the virtual lab (see README, "When devicelab says pass")
BLIND = "a user build takes no lab CA and the XTRA daemon goes around the proxy"
ROOT = Path(__file__).resolve().parents[2]
RACK = """name: rack
provider:
  kind: virtual
  options: {{count: 4, hosts: 2, build: {build}, sim: telenor-no, boot_seconds: 0.3, clock_scale: 60}}
allocator: {{kind: labgrid, coordinator: "{coordinator}"}}
proxy: {{sample_interval: 0.25, adb_reverse: true}}
timeouts: {{boot: 30, shell: 15, fastboot: 20, flash: 120, reboot_drop: 15, lease: 240}}
"""


@pytest.fixture(scope="module")
def rack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, LabgridClient, Path]]:
    """The rack, running: coordinator, the virtual lab (two adb servers), one exporter per host."""
    try:
        client_bin = client_executable()
    except LabgridError as exc:
        pytest.skip(f"labgrid is not installed (pip install devicelab[labgrid]): {exc}")
    tmp_path = tmp_path_factory.mktemp("rack")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DEVICELAB_STATE_DIR", str(tmp_path / "state"))  # the runs below join this lab
        yield from _rack(tmp_path, Path(client_bin).parent)


def _rack(tmp_path: Path, bindir: Path) -> Iterator[tuple[Lab, LabgridClient, Path]]:
    address = f"127.0.0.1:{free_port()}"
    procs = [_start([str(bindir / "labgrid-coordinator"), "-l", address], tmp_path, tmp_path / "coordinator.log")]
    lab_file = tmp_path / "rack.yaml"
    lab_file.write_text(RACK.format(build=BUILD, coordinator=address))
    client = LabgridClient(address, executable=str(bindir / "labgrid-client"), call_timeout=15)
    lab = Lab.from_file(lab_file)
    try:
        _until(lambda: client.run("places") is not None, "labgrid coordinator")
        lab.start()  # starts the virtual lab and publishes a place per handset
        for host, config in exporter_configs(lab.entries, lab.adb_servers).items():
            (tmp_path / f"{host}.yaml").write_text(config)
            procs.append(_start([str(bindir / "labgrid-exporter"), "-c", address, "-n", host,
                                 str(tmp_path / f"{host}.yaml")], tmp_path, tmp_path / f"{host}.log"))
        _until(lambda: client.run("resources").count("AndroidNetFastboot") == 4, "labgrid exporters")
        yield lab, client, lab_file
    finally:
        lab.stop()
        for proc in reversed(procs):
            _stop(proc)


def test_the_virtual_rack_has_two_usb_hosts_each_with_its_own_adb_server(rack: tuple[Lab, LabgridClient, Path],
                                                                        ) -> None:
    lab, client, _ = rack
    hosts = {e.id: e.usb_host for e in lab.entries}
    assert hosts == {"virtual-0": "host-1", "virtual-1": "host-1", "virtual-2": "host-2", "virtual-3": "host-2"}
    assert len({lab.adb_servers[h].port for h in ("host-1", "host-2")}) == 2
    for host in ("host-1", "host-2"):
        seen = subprocess.run(["adb", "-P", str(lab.adb_servers[host].port), "devices"], capture_output=True,
                              text=True, timeout=20, check=True).stdout
        mine = {e.adb.serial for e in lab.entries if e.usb_host == host}
        others = {e.adb.serial for e in lab.entries if e.usb_host != host}
        assert all(s in seen for s in mine), seen
        assert not any(s in seen for s in others), f"{host}'s adb server sees another host's handsets: {seen}"
    resources = client.run("resources")
    assert "host-1/virtual-0/RemoteAndroidNetFastboot" in resources
    assert "host-2/virtual-3/NetworkService" in resources
    shown = client.run("show", place="virtual-2")
    assert "host-2/virtual-2/*" in shown  # the place matches its host's resources


def test_a_lease_learns_the_usb_host_from_its_place_and_checks_the_adb_server(
        rack: tuple[Lab, LabgridClient, Path]) -> None:
    lab, client, _ = rack
    assert isinstance(lab.allocator, LabgridAllocator)
    lease = lab.allocator.acquire({"host": "host-2"}, timeout=20)
    try:
        assert lease.host == "host-2"  # what the place's locked resources say
        assert lease.entry.usb_host == "host-2"
    finally:
        lease.release()
    # an inventory that puts host-2's handsets on another adb server than its exporter publishes
    wrong = LabgridAllocator(client.coordinator, lab.entries, client=client,
                             adb_servers={**lab.adb_servers, "host-2": AdbServerSpec(port=1)})
    with pytest.raises(LabgridError, match=r"the inventory says 127\.0\.0\.1:1 \(host-2\)"):
        wrong.acquire({"host": "host-2"}, timeout=20)
    assert acquired_places(client) == set()
    assert reservations(client) == []


def _together(runs: dict[str, list[str]], folder: Path, timeout: float = 300) -> dict[str, int]:
    """Start every run at once (output to folder/NAME.log); their exit codes. None outlives the call."""
    procs = {}
    for name, argv in runs.items():
        with (folder / f"{name}.log").open("wb") as log:
            procs[name] = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT)
    try:
        return {name: proc.wait(timeout) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _never_twice(spans: dict[str, list[tuple[Any, Any, str]]]) -> None:
    """Per handset, (start, end, run) spans of two runs: none may overlap another."""
    for handset, held in spans.items():
        held.sort()
        for (_, end, first), (start, _, second) in itertools.pairwise(held):
            assert end <= start, f"{handset} used by run {first} and run {second} at once"


def _gate(lab_file: Path, out: Path, handsets: int) -> list[str]:
    return [sys.executable, "-m", "devicelab", "gate", "--build", BUILD, "--sim", "telenor-no", "--lab",
            str(lab_file), "--handsets", str(handsets), "--window", "20", "--out", str(out), "--no-allure-html"]


@pytest.mark.slow  # the rack under contention: minutes of gates
def test_two_concurrent_gate_runs_share_four_handsets(rack: tuple[Lab, LabgridClient, Path], tmp_path: Path) -> None:
    _, client, lab_file = rack
    # 3 + 2 handsets wanted, 4 in the rack: one run waits for the other, and neither deadlocks
    runs = {"a": _gate(lab_file, tmp_path / "a", 3), "b": _gate(lab_file, tmp_path / "b", 2)}
    codes = _together(runs, tmp_path)
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in runs}
    assert codes == {"a": 2, "b": 2}, logs  # inconclusive: the user build's TLS is unread (README)
    intervals: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for name in runs:
        run = read_run(tmp_path / name)
        assert len(run.handsets) == (3 if name == "a" else 2)
        for result in run.handsets:
            info = result.handset
            assert info.host in ("host-1", "host-2"), info
            assert info.leased is not None
            assert info.released is not None
            intervals.setdefault(info.id, []).append((info.leased, info.released, name))
    _never_twice(intervals)
    assert sum(map(len, intervals.values())) == 5
    assert any(len(spans) == 2 for spans in intervals.values()), "the runs did not share a handset"
    # every lease released: no place locked, no reservation left at the coordinator
    assert acquired_places(client) == set()
    assert reservations(client) == []
    for name in runs:  # the report says where each handset was plugged in
        verdict = json.loads((tmp_path / name / "verdict.json").read_text())
        assert {h["handset"]["host"] for h in verdict["handsets"]} <= {"host-1", "host-2"}


def _suite(lab_file: Path, results: Path) -> list[str]:
    """The privacy suite's first boot (x 2 answers: one test per worker) on two xdist workers,
    Allure results to `results`. No --rootdir: pytest would not read the project's configuration."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "xdist", "-n", "2", "--lab", str(lab_file), "--alluredir",
            str(results), "-k", "first_boot_sends", str(ROOT / "suites/test_privacy.py"),
            "--expect-inconclusive", BLIND]


@pytest.mark.slow
def test_two_concurrent_suite_runs_over_xdist_share_the_rack(rack: tuple[Lab, LabgridClient, Path],
                                                             tmp_path: Path) -> None:
    _, client, lab_file = rack
    runs = {"a": _suite(lab_file, tmp_path / "a"), "b": _suite(lab_file, tmp_path / "b")}
    codes = _together(runs, tmp_path)
    assert codes == {"a": 0, "b": 0}, {name: (tmp_path / f"{name}.log").read_text()[-3000:] for name in runs}
    calls: dict[str, list[tuple[int, int, str]]] = {}
    for name in runs:
        # one report per run on its controller: the results of both workers, in one folder
        results = [json.loads(p.read_text()) for p in (tmp_path / name).glob("*-result.json")]
        assert len(results) == 2
        assert {r["status"] for r in results} == {"skipped"}  # the expected inconclusive (strict xfail)
        for result in results:
            handset = next(p["value"] for p in result["parameters"] if p["name"] == "handset")
            host = next(label["value"] for label in result["labels"] if label["name"] == "host")
            assert host in ("host-1", "host-2"), result["labels"]
            calls.setdefault(handset, []).append((result["start"], result["stop"], name))
        environment = (tmp_path / name / "environment.properties").read_text()
        assert " on host-" in environment
        # the privacy verdicts of both workers, gathered by the controller
        verdicts = json.loads((tmp_path / name / VERDICTS_FILE).read_text())
        assert len(verdicts) == 2
        assert {v["outcome"] for v in verdicts} == {"inconclusive"}
        assert {v["host"] for v in verdicts} <= {"host-1", "host-2"}
        assert "devicelab privacy verdicts" in (tmp_path / f"{name}.log").read_text()
    _never_twice(calls)
    assert acquired_places(client) == set()
    assert reservations(client) == []
