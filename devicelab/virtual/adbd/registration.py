"""Making virtual handsets appear in an adb server the way USB handsets do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess

from devicelab.adb.keys import server_env
from devicelab.errors import InfrastructureError, ToolMissingError

log = logging.getLogger(__name__)


def ensure_adb_server(port: int, *, timeout: float = 30.0) -> None:
    """Start the adb server on `port` unless one is already running there."""
    adb = shutil.which("adb")
    if adb is None:
        raise ToolMissingError("adb", "install Debian's adb package (make setup does)")
    try:
        proc = subprocess.run(
            [adb, "-P", str(port), "start-server"], capture_output=True, text=True, timeout=timeout, check=False,
            env=server_env(),  # the lab's key, which lab builds trust (devicelab.adb.keys)
        )
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"adb server on port {port} did not start within {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise InfrastructureError(
            f"adb server on port {port} failed to start (exit {proc.returncode}): {proc.stderr.strip()}"
        )


async def register_emulator(server_port: int, adbd_port: int, *, timeout: float = 2.0) -> bool:
    """Tell the adb server on `server_port` that an emulator's adbd listens on `adbd_port`.

    This is what the Android emulator does at boot: the server connects back to
    127.0.0.1:`adbd_port` and lists the device as `emulator-<adbd_port - 1>`, with no
    `adb connect`. The server sends no reply. False when the server is not reachable.
    """
    return await _smart_request(server_port, f"host:emulator:{adbd_port}", timeout=timeout) is not None


async def _smart_request(server_port: int, request: str, *, timeout: float) -> bytes | None:
    """Send one smart-socket request (`%04x` length + text) and read the reply up to EOF."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", server_port)
            payload = request.encode()
            writer.write(f"{len(payload):04x}".encode() + payload)
            await writer.drain()
            reply = bytearray()
            while chunk := await reader.read(65536):  # the server closes after a host: request
                reply += chunk
            return bytes(reply)
    except (OSError, TimeoutError) as exc:
        log.debug("adb server on port %d: %s failed: %s", server_port, request, exc)
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def listed_serials(server_port: int, *, timeout: float = 2.0) -> list[str] | None:
    """The serials `adb devices` shows (any state), or None when the server does not answer."""
    reply = await _smart_request(server_port, "host:devices", timeout=timeout)
    if reply is None or not reply.startswith(b"OKAY"):
        return None
    text = reply[8:].decode(errors="replace")
    return [line.split("\t")[0] for line in text.splitlines() if line.strip()]


async def wait_forgotten(server_port: int, serial: str, *, timeout: float = 3.0) -> bool:
    """Wait until the server no longer lists `serial`.

    After an emulator transport's socket closes, adb 29 lists it `offline` for ~250 ms and then
    drops it by itself (`adb disconnect emulator-N` does not apply to emulators)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        serials = await listed_serials(server_port, timeout=max(0.1, deadline - loop.time()))
        if serials is None or serial not in serials:
            return True
        await asyncio.sleep(0.05)
    log.warning("adb server on port %d still lists %s after %.1f s", server_port, serial, timeout)
    return False
