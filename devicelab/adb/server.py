"""The adb server a lab uses: a private one we start and stop, or a remote one per USB host."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time

from devicelab.adb.keys import server_env
from devicelab.adb.wire import Deadline, WireError, open_connection, read_length_prefixed, request
from devicelab.errors import InfrastructureError, ToolMissingError

log = logging.getLogger(__name__)


def adb_binary() -> str:
    path = shutil.which("adb")
    if path is None:
        raise ToolMissingError("adb", "install it with `apt-get install adb` (make setup does)")
    return path


class AdbServer:
    """An adb server at host:port. `managed=True`: we run it (`adb nodaemon server`) and stop it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5037, *, managed: bool = False,
                 listen_all: bool = False) -> None:
        self.host = host
        self.port = port
        self.managed = managed
        self.listen_all = listen_all
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"AdbServer({self.host}:{self.port}{', managed' if self.managed else ''})"

    def version(self, timeout: float = 5.0) -> int:
        deadline = Deadline.after(timeout)
        conn = open_connection(self.host, self.port, deadline)
        try:
            request(conn, "host:version", deadline)
            return int(read_length_prefixed(conn, deadline), 16)
        finally:
            conn.close()

    def alive(self, timeout: float = 2.0) -> bool:
        try:
            self.version(timeout)
        except (WireError, ValueError):
            return False
        return True

    def start(self, timeout: float = 20.0) -> None:
        """Start our private server (loopback only unless listen_all) and wait until it answers."""
        if not self.managed:
            if not self.alive():
                raise InfrastructureError(f"no adb server answers at {self.host}:{self.port}")
            return
        if self.alive():
            log.info("adb server on port %d is already running; using it", self.port)
            return
        argv = [adb_binary(), "-P", str(self.port)]
        if self.listen_all:
            argv.append("-a")
        argv += ["nodaemon", "server"]
        # our own session: Ctrl-C in the terminal must not kill it before teardown has run
        # the server offers the lab's key in AUTH: lab builds trust it (devicelab.adb.keys)
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True, env=server_env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise InfrastructureError(f"adb server on port {self.port} exited at start "
                                          f"(code {self._proc.returncode}); is the port taken?")
            if self.alive(0.5):
                return
            time.sleep(0.05)
        self.stop()
        raise InfrastructureError(f"adb server on port {self.port} did not answer within {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if we started it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
