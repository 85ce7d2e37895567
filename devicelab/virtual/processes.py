"""The process table of a running virtual system: what `ps -A` lists and `am force-stop`
kills. Native daemons come up at boot; app processes when an activity starts."""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Android's fixed uids (system/core/include/private/android_filesystem_config.h).
UID_NAMES = {
    0: "root", 1000: "system", 1001: "radio", 1002: "bluetooth", 1003: "graphics", 1004: "input",
    1005: "audio", 1006: "camera", 1007: "log", 1010: "wifi", 1012: "install", 1013: "media",
    1016: "vpn", 1017: "keystore", 1019: "drm", 1020: "mdnsr", 1021: "gps", 1023: "media_rw",
    1027: "nfc", 1036: "logd", 1041: "audioserver", 1046: "mediacodec", 1047: "cameraserver",
    1051: "webview_zygote", 1053: "incidentd", 1058: "tombstoned", 2000: "shell", 9999: "nobody",
}
AID_APP_START = 10000
AID_ISOLATED_START = 99000


def uid_name(uid: int) -> str:
    """`u0_a26` for app uid 10026, `system` for 1000: the names `ps` and `ls -l` print."""
    if uid in UID_NAMES:
        return UID_NAMES[uid]
    user, app = divmod(uid, 100_000)
    if app >= AID_ISOLATED_START:
        return f"u{user}_i{app - AID_ISOLATED_START}"
    if app >= AID_APP_START:
        return f"u{user}_a{app - AID_APP_START}"
    return str(uid)


def uid_of(name: str) -> int | None:
    """Inverse of uid_name for names and decimal strings."""
    if name.isdecimal():
        return int(name)
    for uid, known in UID_NAMES.items():
        if known == name:
            return uid
    if name.startswith("u0_a") and name[4:].isdecimal():
        return AID_APP_START + int(name[4:])
    return None


@dataclass
class Process:
    pid: int
    ppid: int
    uid: int
    name: str
    vsz: int
    rss: int
    wchan: str = "SyS_epoll_wait"
    state: str = "S"


#: Native processes every booted Android 9 handset runs: (name, uid, parent name).
NATIVE = (
    ("init", 0, ""), ("kthreadd", 0, ""), ("ueventd", 0, "init"), ("logd", 1036, "init"),
    ("servicemanager", 1000, "init"), ("hwservicemanager", 1000, "init"),
    ("vndservicemanager", 1000, "init"), ("vold", 0, "init"), ("netd", 0, "init"),
    ("surfaceflinger", 1000, "init"), ("zygote64", 0, "init"), ("zygote", 0, "init"),
    ("audioserver", 1041, "init"), ("cameraserver", 1047, "init"), ("installd", 0, "init"),
    ("keystore", 1017, "init"), ("media.extractor", 1013, "init"), ("tombstoned", 1058, "init"),
    ("adbd", 2000, "init"), ("system_server", 1000, "zygote64"),
)


class ProcessTable:
    """Processes by pid. Pids grow as on a fresh kernel; the seed keeps a boot reproducible."""

    def __init__(self, seed: str = "") -> None:
        self._rng = random.Random(f"processes-{seed}")
        self._procs: dict[int, Process] = {}
        self._next_pid = 1
        for name, uid, parent in NATIVE:
            parents = self.by_name(parent)
            self.spawn(name, uid, ppid=parents[0].pid if parents else 0, native=True)

    def _pid(self) -> int:
        pid = self._next_pid
        self._next_pid += 1 if pid < 2 else self._rng.randint(1, 40)
        if self._next_pid > 32000:  # pid_max on Android 9 kernels is 32768
            self._next_pid = 2000
        while pid in self._procs:
            pid += 1
        return pid

    def spawn(self, name: str, uid: int, *, ppid: int | None = None, native: bool = False) -> Process:
        """Start a process; app processes fork from zygote64."""
        if ppid is None:
            zygote = self.by_name("zygote64")
            ppid = zygote[0].pid if zygote else 1
        vsz = self._rng.randint(10_000, 90_000) if native else self._rng.randint(4_200_000, 4_500_000)
        rss = self._rng.randint(2_000, 20_000) if native else self._rng.randint(60_000, 180_000)
        proc = Process(self._pid(), ppid, uid, name, vsz, rss)
        self._procs[proc.pid] = proc
        return proc

    def ensure(self, name: str, uid: int) -> Process:
        """The running process called `name`, started if absent."""
        running = self.by_name(name)
        return running[0] if running else self.spawn(name, uid)

    def kill(self, pid: int) -> bool:
        return self._procs.pop(pid, None) is not None

    def kill_package(self, package: str) -> int:
        """Kill a package's processes (`pkg` and `pkg:service`); returns how many."""
        doomed = [p.pid for p in self._procs.values() if p.name == package or p.name.startswith(package + ":")]
        for pid in doomed:
            del self._procs[pid]
        return len(doomed)

    def by_name(self, name: str) -> list[Process]:
        return [p for p in self._procs.values() if p.name == name]

    def get(self, pid: int) -> Process | None:
        return self._procs.get(pid)

    def all(self) -> list[Process]:
        return sorted(self._procs.values(), key=lambda p: p.pid)
