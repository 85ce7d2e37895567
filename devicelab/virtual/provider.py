"""The embedded virtual lab as a handset provider, shared by every process of a run.

The first process that needs the lab starts `devicelab virtual up` in the background and
records it in a state file; later processes (xdist workers, a second pytest run) join it. The
last one out stops it. The lab process itself exits when every user has died, so a killed run
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from filelock import FileLock
from pydantic import Field, model_validator

from devicelab.errors import InfrastructureError
from devicelab.lab.lease import lease_dir
from devicelab.lab.providers import ProvidedLab
from devicelab.model.data import Frozen, validate
from devicelab.model.inventory import AdbAddress, AdbServerSpec, HandsetEntry, KnownIdentity, UpstreamRouting
from devicelab.virtual.control import MAX_SOCKET_PATH, ControlClient, ControlNetworkPlug, ControlSimSwitcher
from devicelab.virtual.lab import DEFAULT_BUILD


class VirtualOptions(Frozen):
    count: int = Field(default=4, ge=1, le=64)
    #: USB hosts, each with its own adb server; the handsets are spread over them
    hosts: int = Field(default=1, ge=1, le=16)
    build: str = DEFAULT_BUILD
    sim: str | None = "telenor-no"
    boot_seconds: float | None = Field(default=0.5, ge=0, le=600)
    clock_scale: float = Field(default=60.0, gt=0)
    #: the inventory lists the handsets' IMEIs and MACs, as a lab that wrote them down would; False:
    #: a lab that knows nothing but serials (identity reading then rests on the handset alone)
    known_identity: bool = True

    @model_validator(mode="after")
    def _a_handset_per_host(self) -> VirtualOptions:
        if self.hosts > self.count:
            raise ValueError(f"hosts: {self.hosts} USB hosts for {self.count} handset(s); a host needs a handset")
        return self


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: this checkout of devicelab, by where its code lives
CHECKOUT = hashlib.sha1(str(Path(__file__).resolve().parents[1]).encode()).hexdigest()[:10]  # noqa: S324  (a name)


def lab_dir(lab_name: str) -> Path:
    """The state folder of a virtual lab: one lab per checkout, since another checkout's lab runs
    other code (and knows other builds)."""
    return lease_dir(lab_name).parent.parent / "virtual" / f"{lab_name}-{CHECKOUT}"


class VirtualProvider:
    def __init__(self, lab_name: str, options: dict[str, Any], source: str) -> None:
        self.options = validate(VirtualOptions, options, f"{source}: provider.options")
        self.dir = lab_dir(lab_name)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state_path = self.dir / "state.json"
        self.lock = FileLock(self.dir / "state.lock")
        self._joined = False
        self._proc: subprocess.Popen[bytes] | None = None

    def _read_state(self) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        if not pid_alive(int(state.get("pid", 0))):
            return None
        return state

    def _write_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_path)

    def start(self, timeout: float) -> ProvidedLab:
        with self.lock.acquire(timeout=timeout + 10):
            state = self._read_state()
            if state is None:
                state = self._launch(timeout)
            users = [p for p in state.get("users", []) if pid_alive(p)]
            users.append(os.getpid())
            state["users"] = users
            self._write_state(state)
            self._joined = True
        return self._provided(state)

    def _control_path(self) -> Path:
        """Where the lab's control socket goes: the state folder, or a short folder when that
        path is too long for a unix socket."""
        path = self.dir / "control.sock"
        if len(str(path)) <= MAX_SOCKET_PATH:
            return path
        return Path(tempfile.mkdtemp(prefix="devicelab-")) / "control.sock"

    def _launch(self, timeout: float) -> dict[str, Any]:
        ports = [free_port() for _ in range(self.options.hosts)]
        opts = self.options
        control = self._control_path()
        argv = [sys.executable, "-m", "devicelab", "virtual", "up", "--json", "--count", str(opts.count),
                "--build", opts.build, *(a for p in ports for a in ("--adb-port", str(p))),
                "--clock-scale", str(opts.clock_scale), "--users-file", str(self.state_path), "--control", str(control),
                "--received-log", str(self.dir / "received.jsonl")]
        if opts.sim:
            argv += ["--sim", opts.sim]
        if opts.boot_seconds is not None:
            argv += ["--boot-seconds", str(opts.boot_seconds)]
        # its own session: a Ctrl-C aimed at pytest must not kill the lab before teardown
        log_file = (self.dir / "lab.log").open("wb")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file,
                                start_new_session=True)
        log_file.close()
        lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            with proc.stdout:
                for raw in proc.stdout:
                    line = raw.decode(errors="replace").strip()
                    if line == "READY":
                        ready.set()
                        return
                    lines.append(line)

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout) or proc.poll() is not None:
            proc.kill()
            proc.wait(5)
            tail = (self.dir / "lab.log").read_text(errors="replace")[-800:]
            raise InfrastructureError(f"the virtual lab did not start within {timeout:.0f} s: {tail}")
        handsets = [json.loads(line) for line in lines if line.startswith("{")]
        self._proc = proc  # kept so it is reaped, not warned about, if we are the one who stops it
        return {"pid": proc.pid, "handsets": handsets, "users": [], "control": str(control)}

    def _provided(self, state: dict[str, Any]) -> ProvidedLab:
        entries = []
        servers: dict[str, AdbServerSpec] = {}
        sim = self.options.sim
        for index, info in enumerate(state["handsets"]):
            host = str(info.get("usb_host", "local"))
            servers[host] = AdbServerSpec(port=int(info["adb_server_port"]))
            entries.append(
                HandsetEntry(
                    id=f"virtual-{index}",
                    serialno=info["serialno"],
                    adb=AdbAddress(server=host, serial=info["adb_serial"]),
                    fastboot=info["fastboot"],
                    model=info.get("device", "B2N"),
                    sku=info.get("sku", ""),
                    region=info.get("region", ""),
                    sim=sim,
                    known=KnownIdentity(imei=tuple(info.get("imei", ())), serial=info["serialno"],
                                        wifi_mac=info.get("wifi_mac"), bt_mac=info.get("bt_mac"))
                    if self.options.known_identity else KnownIdentity(serial=info["serialno"]),
                    tags={"kind": "virtual", "host": host},
                )
            )
        # the lab puts SIMs in slots itself, through its control channel
        switcher = ControlSimSwitcher(state["control"]) if state.get("control") else None
        plug = ControlNetworkPlug(state["control"]) if state.get("control") else None
        return ProvidedLab(servers, tuple(entries), sim_switcher=switcher, network_plug=plug,
                           upstream=self._upstream(state))

    @staticmethod
    def _upstream(state: dict[str, Any]) -> UpstreamRouting | None:
        """The virtual internet's hosts and root CA: the proxy routes there and nowhere else."""
        if not state.get("control"):
            return None
        reply = ControlClient(state["control"]).request("upstream", timeout=10)
        hosts = {name: (str(addr[0]), int(addr[1])) for name, addr in reply.get("hosts", {}).items()}
        ca = Path(reply["ca"]) if reply.get("ca") else None
        names = {str(k): str(v) for k, v in reply.get("names", {}).items()}
        udp = tuple(str(name) for name in reply.get("udp", []))
        return UpstreamRouting(hosts=hosts, ca=ca, only=True, names=names, udp=udp)

    def stop(self) -> None:
        if not self._joined:
            return
        self._joined = False
        with self.lock.acquire(timeout=30):
            state = self._read_state()
            if state is None:
                self.state_path.unlink(missing_ok=True)
                return
            users = [p for p in state.get("users", []) if pid_alive(p)]
            # one join of this process ends: another Lab in it (the session's) may still use the lab
            if os.getpid() in users:
                users.remove(os.getpid())
            state["users"] = users
            if users:
                self._write_state(state)
                if self._proc is not None:  # the lab outlives this provider: reap it whenever it ends,
                    threading.Thread(target=self._proc.wait, daemon=True).start()  # and never warn
                    self._proc = None
                return
            shutdown(int(state["pid"]))
            self.state_path.unlink(missing_ok=True)
            if self._proc is not None:
                self._proc.wait(5)


def shutdown(pid: int, timeout: float = 15.0) -> None:
    """Stop a lab process: SIGTERM (it stops its handsets and adb server), then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not pid_alive(pid):
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def watch_users(users_file: Path, stop: threading.Event, grace: float = 20.0) -> None:
    """In the lab process: set `stop` once no process listed in users_file is alive."""
    started = time.monotonic()
    while not stop.wait(1.0):
        try:
            users = json.loads(users_file.read_text()).get("users", [])
        except (OSError, ValueError):
            users = None
        if users is None:
            if time.monotonic() - started > grace:
                stop.set()
            continue
        if time.monotonic() - started > grace and not any(pid_alive(int(p)) for p in users):
            stop.set()
