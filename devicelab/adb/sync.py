"""The sync protocol (push/pull) on an open `sync:` connection, with deadlines and full writes.

pure-python-adb's Sync writes with `socket.send` (may be partial under a timeout) and turns a
failed pull into a returned string; this version raises and never leaves a half file behind.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ppadb.connection import Connection

from devicelab.adb.wire import Deadline, WireError, read_exact, send_all

CHUNK = 64 * 1024
S_IFREG = 0o100000


def _request(kind: bytes, arg: bytes) -> bytes:
    return kind + struct.pack("<I", len(arg)) + arg


def push(conn: Connection, local: Path, remote: str, deadline: Deadline, *, mode: int = 0o644) -> None:
    data = local.read_bytes()
    mtime = int(local.stat().st_mtime)
    parts = [_request(b"SEND", f"{remote},{S_IFREG | mode}".encode())]
    for offset in range(0, len(data), CHUNK):
        chunk = data[offset : offset + CHUNK]
        parts.append(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
    parts.append(b"DONE" + struct.pack("<I", mtime))
    send_all(conn, b"".join(parts), deadline)
    status = read_exact(conn, 8, deadline)
    if status[:4] == b"OKAY":
        return
    if status[:4] == b"FAIL":
        (length,) = struct.unpack("<I", status[4:])
        raise WireError(read_exact(conn, length, deadline).decode(errors="replace"))
    raise WireError(f"unexpected sync reply {status[:4]!r}")


def pull(conn: Connection, remote: str, local: Path, deadline: Deadline) -> None:
    send_all(conn, _request(b"RECV", remote.encode()), deadline)
    tmp = local.with_name(local.name + ".part")
    try:
        with tmp.open("wb") as out:
            while True:
                header = read_exact(conn, 8, deadline)
                kind, (length,) = header[:4], struct.unpack("<I", header[4:])
                if kind == b"DATA":
                    out.write(read_exact(conn, length, deadline))
                elif kind == b"DONE":
                    break
                elif kind == b"FAIL":
                    raise WireError(read_exact(conn, length, deadline).decode(errors="replace"))
                else:
                    raise WireError(f"unexpected sync reply {kind!r}")
        tmp.replace(local)
    finally:
        tmp.unlink(missing_ok=True)
    send_all(conn, _request(b"QUIT", b""), deadline)
