"""An in-memory file system for the virtual handset: what sync and the shell read and write."""

from __future__ import annotations

import posixpath
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

S_DIR = stat.S_IFDIR | 0o771
S_FILE = stat.S_IFREG | 0o644


class FsError(Exception):
    """A file-system error with its errno name, e.g. FsError('ENOENT', path)."""

    def __init__(self, code: str, path: str) -> None:
        super().__init__(f"{path}: {MESSAGES.get(code, code)}")
        self.code = code
        self.path = path


MESSAGES = {
    "ENOENT": "No such file or directory",
    "EISDIR": "Is a directory",
    "ENOTDIR": "Not a directory",
    "EACCES": "Permission denied",
    "EROFS": "Read-only file system",
    "EEXIST": "File exists",
    "ENOTEMPTY": "Directory not empty",
}
ERRNO = {"ENOENT": 2, "EACCES": 13, "EEXIST": 17, "ENOTDIR": 20, "EISDIR": 21, "EROFS": 30, "ENOTEMPTY": 39}


@dataclass
class Node:
    mode: int
    data: bytearray = field(default_factory=bytearray)
    mtime: int = field(default_factory=lambda: int(time.time()))
    uid: int = 0
    gid: int = 0

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def size(self) -> int:
        return 0 if self.is_dir else len(self.data)


def normalize(path: str) -> str:
    if not path.startswith("/"):
        path = "/" + path
    norm = posixpath.normpath(path)
    return "/" if norm in ("/", "//") else norm


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class VirtualFS:
    """Paths map to nodes. Some prefixes are read-only unless the caller is root; some files
    are generated on read (`/proc/net/tcp`)."""

    def __init__(self, read_only: tuple[str, ...] = ("/system", "/vendor", "/proc")) -> None:
        self._nodes: dict[str, Node] = {"/": Node(S_DIR)}
        self._dynamic: dict[str, Callable[[], bytes]] = {}
        self.read_only = read_only
        #: dm-verity (system-as-root on B2N): these stay read-only for root too, except below a
        #: tmpfs mounted over a folder; empty while the factory (or the boot) lays the system out
        self.verity: tuple[str, ...] = ()
        #: tmpfs mount points -> the nodes each one hides (back when it is unmounted or at reboot)
        self._mounts: dict[str, dict[str, Node]] = {}

    # -- queries -------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        path = normalize(path)
        return path in self._nodes or path in self._dynamic

    def stat(self, path: str) -> Node:
        path = normalize(path)
        if path in self._dynamic:
            return Node(S_FILE & ~0o222, bytearray(self._dynamic[path]()))
        node = self._nodes.get(path)
        if node is None:
            raise FsError("ENOENT", path)
        return node

    def read(self, path: str) -> bytes:
        path = normalize(path)
        if path in self._dynamic:
            return self._dynamic[path]()
        node = self.stat(path)
        if node.is_dir:
            raise FsError("EISDIR", path)
        return bytes(node.data)

    def listdir(self, path: str) -> list[tuple[str, Node]]:
        path = normalize(path)
        node = self.stat(path)
        if not node.is_dir:
            raise FsError("ENOTDIR", path)
        prefix = path.rstrip("/") + "/"
        entries: dict[str, Node] = {}
        for other in (*self._nodes, *self._dynamic):
            if other.startswith(prefix) and other != path:
                rest = other[len(prefix) :]
                if "/" not in rest:
                    entries[rest] = self.stat(other)
        return sorted(entries.items())

    def walk_files(self, prefix: str = "/") -> Iterator[str]:
        prefix = normalize(prefix)
        for path, node in list(self._nodes.items()):
            if not node.is_dir and (path == prefix or path.startswith(prefix.rstrip("/") + "/")):
                yield path

    # -- changes -------------------------------------------------------------------------
    def _check_writable(self, path: str, root: bool) -> None:
        if root:
            if _under(path, self.verity) and not _under(path, tuple(m for m in self._mounts if m != path)):
                raise FsError("EROFS", path)
            return
        for ro in self.read_only:
            if path == ro or path.startswith(ro + "/"):
                raise FsError("EROFS", path)

    def mkdirs(self, path: str, *, root: bool = True, mode: int = S_DIR) -> None:
        """mkdir -p."""
        path = normalize(path)
        parts = [p for p in path.split("/") if p]
        current = ""
        for part in parts:
            current += "/" + part
            node = self._nodes.get(current)
            if node is None:
                self._check_writable(current, root)
                self._nodes[current] = Node(mode)
            elif not node.is_dir:
                raise FsError("ENOTDIR", current)

    def write(
        self, path: str, data: bytes, *, root: bool = True, mode: int = S_FILE, mtime: int | None = None,
        make_parents: bool = False,
    ) -> None:
        path = normalize(path)
        self._check_writable(path, root)
        parent = posixpath.dirname(path)
        if make_parents:
            self.mkdirs(parent, root=root)
        parent_node = self._nodes.get(parent)
        if parent_node is None:
            raise FsError("ENOENT", parent)
        if not parent_node.is_dir:
            raise FsError("ENOTDIR", parent)
        existing = self._nodes.get(path)
        if existing is not None and existing.is_dir:
            raise FsError("EISDIR", path)
        file_mode = stat.S_IFREG | (mode & 0o7777) if mode else S_FILE
        self._nodes[path] = Node(file_mode, bytearray(data), mtime if mtime is not None else int(time.time()))

    def append(self, path: str, data: bytes, *, root: bool = True) -> None:
        path = normalize(path)
        node = self._nodes.get(path)
        if node is None:
            self.write(path, data, root=root)
            return
        self._check_writable(path, root)
        node.data.extend(data)
        node.mtime = int(time.time())

    def remove(self, path: str, *, root: bool = True, recursive: bool = False) -> None:
        path = normalize(path)
        node = self.stat(path)
        self._check_writable(path, root)
        if node.is_dir:
            children = [p for p in self._nodes if p.startswith(path.rstrip("/") + "/")]
            if children and not recursive:
                raise FsError("ENOTEMPTY", path)
            for child in children:
                del self._nodes[child]
        self._nodes.pop(path, None)

    def wipe(self, prefix: str) -> None:
        """Drop everything below `prefix` (factory reset of /data), keeping the folder."""
        prefix = normalize(prefix)
        for path in [p for p in self._nodes if p.startswith(prefix + "/")]:
            del self._nodes[path]

    # -- tmpfs mounts (what `mount -t tmpfs tmpfs DIR` does; a reboot drops them) ---------------
    @property
    def mounts(self) -> tuple[str, ...]:
        return tuple(self._mounts)

    def mount_tmpfs(self, path: str) -> None:
        """An empty, writable folder over `path`; what was below it is hidden until unmounted."""
        path = normalize(path)
        if not self.stat(path).is_dir:
            raise FsError("ENOTDIR", path)
        hidden = {p: n for p, n in self._nodes.items() if p.startswith(path.rstrip("/") + "/")}
        for p in hidden:
            del self._nodes[p]
        self._mounts[path] = {**self._mounts.get(path, {}), **hidden}

    def umount(self, path: str) -> None:
        path = normalize(path)
        if path not in self._mounts:
            raise FsError("EINVAL", path)
        for p in [p for p in self._nodes if p.startswith(path.rstrip("/") + "/")]:
            del self._nodes[p]
        self._nodes.update(self._mounts.pop(path))

    def drop_mounts(self) -> None:
        """A reboot: every tmpfs is gone, the folders below show what the partition holds."""
        for path in reversed(list(self._mounts)):
            self.umount(path)

    def register_dynamic(self, path: str, generate: Callable[[], bytes]) -> None:
        path = normalize(path)
        self.mkdirs(posixpath.dirname(path))
        self._dynamic[path] = generate
