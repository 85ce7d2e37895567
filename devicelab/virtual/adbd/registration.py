"""Making virtual handsets appear in an adb server the way USB handsets do."""

from __future__ import annotations

import shutil
import subprocess

from devicelab.errors import InfrastructureError, ToolMissingError


def ensure_adb_server(port: int, *, timeout: float = 30.0) -> None:
    """Start the adb server on `port` unless one is already running there."""
    adb = shutil.which("adb")
    if adb is None:
        raise ToolMissingError("adb", "install Debian's adb package (make setup does)")
    try:
        proc = subprocess.run(
            [adb, "-P", str(port), "start-server"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"adb server on port {port} did not start within {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise InfrastructureError(
            f"adb server on port {port} failed to start (exit {proc.returncode}): {proc.stderr.strip()}"
        )
