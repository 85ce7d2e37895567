"""Who may read, list and write where: the shell user's view of Android 9's file permissions
(modelled by prefix, not by SELinux). Root may do everything the file system allows."""

from __future__ import annotations

from devicelab.virtual.fs import FsError

#: Trees the shell user cannot read (it may still pass through, e.g. `cd /data`).
PRIVATE = ("/data", "/cache", "/metadata", "/persist", "/config", "/mnt/vendor")
#: Exceptions inside PRIVATE the shell user may read.
SHELL_READABLE = ("/data/local/tmp", "/data/app")
#: Where the shell user may create files.
SHELL_WRITABLE = ("/data/local/tmp", "/sdcard", "/storage/emulated/0", "/storage/self/primary", "/mnt/sdcard")
READ_ONLY = ("/system", "/vendor", "/proc", "/sys", "/product", "/odm")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def can_read(path: str, uid: int) -> bool:
    return uid == 0 or not _under(path, PRIVATE) or _under(path, SHELL_READABLE)


def can_list(path: str, uid: int) -> bool:
    return uid == 0 or not _under(path, PRIVATE) or _under(path, ("/data/local/tmp",))


def check_read(path: str, uid: int) -> None:
    if not can_read(path, uid):
        raise FsError("EACCES", path)


def check_list(path: str, uid: int) -> None:
    if not can_list(path, uid):
        raise FsError("EACCES", path)


def check_write(path: str, uid: int) -> None:
    """Raise FsError(EROFS/EACCES) when `uid` may not create or change `path`."""
    if uid == 0:
        return
    if _under(path, READ_ONLY):
        raise FsError("EROFS", path)
    if not _under(path, SHELL_WRITABLE):
        raise FsError("EACCES", path)
