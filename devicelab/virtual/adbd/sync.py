"""The `sync:` service: STAT/STA2/LST2, LIST/LIS2, SEND, RECV and QUIT over one stream.

Files live in the handset's VirtualFS. A request the device cannot serve gets FAIL with a
message and ends the session, as adbd does; nothing a host sends can crash the daemon.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import stat
import struct
import zlib
from typing import TYPE_CHECKING

from devicelab.virtual.adbd.stream import AdbStream, StreamClosed
from devicelab.virtual.fs import ERRNO, MESSAGES, FsError, Node

if TYPE_CHECKING:
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)

REQUEST = struct.Struct("<4sI")
STAT_V1 = struct.Struct("<4sIII")
DENT_V1 = struct.Struct("<4sIIII")
STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")
DENT_V2 = struct.Struct("<4sIQQIIIIQqqqI")
#: adbd refuses longer paths, and DATA chunks larger than 64 KiB.
MAX_PATH = 1024
MAX_DATA = 64 * 1024


class SyncFailure(Exception):
    """Reported to the host as FAIL + message; ends the session."""


def fail_packet(message: str) -> bytes:
    data = message.encode()
    return REQUEST.pack(b"FAIL", len(data)) + data


def inode(path: str) -> int:
    """A stable made-up inode number."""
    return zlib.crc32(path.encode()) or 1


def stat_v2(tag: bytes, path: str, node: Node | None, error: int = 0) -> bytes:
    if node is None:
        return STAT_V2.pack(tag, error, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    nlink = 2 if node.is_dir else 1
    return STAT_V2.pack(
        tag, 0, 0xFD00, inode(path), node.mode, nlink, node.uid, node.gid, node.size, node.mtime, node.mtime, node.mtime
    )


def _errno(exc: FsError) -> int:
    return ERRNO.get(exc.code, 5)  # EIO for anything unnamed


def _reason(exc: FsError) -> str:
    return MESSAGES.get(exc.code, exc.code)


class SyncSession:
    """One `sync:` stream."""

    def __init__(self, handset: VirtualHandset, stream: AdbStream) -> None:
        self.handset = handset
        self.stream = stream

    @property
    def root(self) -> bool:
        system = self.handset.system
        return system is not None and system.rooted

    async def serve(self) -> None:
        try:
            while True:
                tag, length = REQUEST.unpack(await self.stream.read_exactly(REQUEST.size))
                if tag == b"QUIT":
                    return
                if tag in (b"DATA", b"DONE"):
                    raise SyncFailure(f"unexpected {tag.decode()} outside SEND")
                if length > MAX_PATH:
                    raise SyncFailure("path too long")
                path = _decode_path(await self.stream.read_exactly(length))
                await self._dispatch(tag, path)
        except SyncFailure as exc:
            log.info("%s: sync FAIL: %s", self.handset.name, exc)
            await self._write(fail_packet(str(exc)))
        except StreamClosed:
            log.debug("%s: sync stream closed by the host", self.handset.name)

    async def _write(self, data: bytes) -> None:
        with contextlib.suppress(StreamClosed):
            await self.stream.write(data)

    async def _dispatch(self, tag: bytes, path: str) -> None:
        if tag == b"STAT":
            await self._write(self._stat_v1(path))
        elif tag in (b"STA2", b"LST2"):
            await self._write(self._stat_v2(tag, path))
        elif tag == b"LIST":
            await self._write(self._list(path, v2=False))
        elif tag == b"LIS2":
            await self._write(self._list(path, v2=True))
        elif tag == b"SEND":
            await self._send(path)
        elif tag == b"RECV":
            await self._recv(path)
        else:
            raise SyncFailure(f"unknown command {tag.hex()}")

    # -- stat and list -------------------------------------------------------------------
    def _stat_v1(self, path: str) -> bytes:
        try:
            node = self.handset.fs.stat(path)
        except FsError:
            return STAT_V1.pack(b"STAT", 0, 0, 0)
        return STAT_V1.pack(b"STAT", node.mode, node.size & 0xFFFFFFFF, node.mtime)

    def _stat_v2(self, tag: bytes, path: str) -> bytes:
        try:
            return stat_v2(tag, path, self.handset.fs.stat(path))
        except FsError as exc:
            return stat_v2(tag, path, None, _errno(exc))

    def _list(self, path: str, *, v2: bool) -> bytes:
        fs = self.handset.fs
        out = bytearray()
        try:
            entries = [(".", fs.stat(path)), ("..", fs.stat(posixpath.dirname(path.rstrip("/")) or "/")),
                       *fs.listdir(path)]
        except FsError:
            entries = []  # adbd lists nothing for what it cannot open
        for name, node in entries:
            raw = name.encode()
            if v2:
                full = posixpath.join(path, name)
                out += DENT_V2.pack(b"DNT2", 0, 0xFD00, inode(full), node.mode, 2 if node.is_dir else 1,
                                    node.uid, node.gid, node.size, node.mtime, node.mtime, node.mtime, len(raw))
            else:
                out += DENT_V1.pack(b"DENT", node.mode, node.size & 0xFFFFFFFF, node.mtime, len(raw))
            out += raw
        # DONE is a whole dirent with id DONE: the host reads that many bytes.
        out += DENT_V2.pack(b"DONE", *([0] * 12)) if v2 else DENT_V1.pack(b"DONE", 0, 0, 0, 0)
        return bytes(out)

    # -- transfers -----------------------------------------------------------------------
    async def _send(self, spec: str) -> None:
        path, _, mode_text = spec.rpartition(",")
        if not path:
            path, mode_text = spec, "33188"
        try:
            mode = int(mode_text)
        except ValueError:
            raise SyncFailure(f"bad SEND mode {mode_text!r}") from None
        problem = self._check_target(path)
        data = bytearray()
        mtime = 0
        while True:
            tag, length = REQUEST.unpack(await self.stream.read_exactly(REQUEST.size))
            if tag == b"DONE":
                mtime = length
                break
            if tag != b"DATA":
                raise SyncFailure(f"invalid data message: expected DATA or DONE, got {tag.hex()}")
            if length > MAX_DATA:
                raise SyncFailure("oversize data message")
            chunk = await self.stream.read_exactly(length)
            if problem is None:
                data += chunk
        if problem is not None:
            raise SyncFailure(problem)
        try:
            self.handset.fs.write(path, bytes(data), root=self.root, mode=stat.S_IMODE(mode) or 0o644,
                                  mtime=mtime or None, make_parents=True)
        except FsError as exc:
            raise SyncFailure(f"couldn't create file: {_reason(exc)}") from None
        await self._write(REQUEST.pack(b"OKAY", 0))

    def _check_target(self, path: str) -> str | None:
        """Why a SEND to `path` must fail (checked before the data arrives), or None."""
        fs = self.handset.fs
        try:
            fs.mkdirs(posixpath.dirname(path), root=self.root)
            if fs.exists(path) and fs.stat(path).is_dir:
                raise FsError("EISDIR", path)
            for read_only in fs.read_only:
                if not self.root and (path == read_only or path.startswith(read_only + "/")):
                    raise FsError("EROFS", path)
        except FsError as exc:
            return f"couldn't create file: {_reason(exc)}"
        return None

    async def _recv(self, path: str) -> None:
        try:
            content = self.handset.fs.read(path)
        except FsError as exc:
            raise SyncFailure(f"open failed: {_reason(exc)}") from None
        out = bytearray()
        for start in range(0, len(content), MAX_DATA):
            chunk = content[start : start + MAX_DATA]
            out += REQUEST.pack(b"DATA", len(chunk)) + chunk
        out += REQUEST.pack(b"DONE", 0)
        await self._write(bytes(out))


def _decode_path(raw: bytes) -> str:
    try:
        path = raw.decode()
    except UnicodeDecodeError:
        raise SyncFailure("path is not valid UTF-8") from None
    if "\0" in path:
        raise SyncFailure("path contains NUL")
    return path


async def serve_sync(handset: VirtualHandset, stream: AdbStream) -> None:
    await SyncSession(handset, stream).serve()
