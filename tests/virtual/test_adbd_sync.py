"""sync: push and pull with the adb CLI (stat_v2/ls_v2) and ppadb (v1), errors, malformed requests."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from ppadb.client import Client

from devicelab.virtual.lab import VirtualLab
from tests.virtual.adb_helpers import recv_exactly, run_adb, smart_socket

FIVE_MB = 5 * 1024 * 1024


def device_file(lab: VirtualLab, path: str) -> bytes:
    return lab.call(lambda: lab.handsets[0].fs.read(path))


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "random.bin"
    path.write_bytes(os.urandom(FIVE_MB))
    return path


def test_adb_push_pull_5mb_byte_identical(
    lab: VirtualLab, adb_port: int, serial: str, payload: Path, tmp_path: Path
) -> None:
    push = run_adb(adb_port, "-s", serial, "push", str(payload), "/data/local/tmp/random.bin")
    assert push.returncode == 0, push.stderr
    assert device_file(lab, "/data/local/tmp/random.bin") == payload.read_bytes()
    back = tmp_path / "back.bin"
    pull = run_adb(adb_port, "-s", serial, "pull", "/data/local/tmp/random.bin", str(back))
    assert pull.returncode == 0, pull.stderr
    assert back.read_bytes() == payload.read_bytes()


def test_ppadb_push_pull_5mb_byte_identical(
    lab: VirtualLab, adb_port: int, serial: str, payload: Path, tmp_path: Path
) -> None:
    device = Client(host="127.0.0.1", port=adb_port).device(serial)
    assert device is not None
    device.push(str(payload), "/sdcard/Download/random.bin")
    back = tmp_path / "back.bin"
    device.pull("/sdcard/Download/random.bin", str(back))
    assert back.read_bytes() == payload.read_bytes()


def test_push_creates_missing_folders_and_keeps_mode(
    lab: VirtualLab, adb_port: int, serial: str, tmp_path: Path
) -> None:
    src = tmp_path / "tool.sh"
    src.write_bytes(b"#!/system/bin/sh\n")
    src.chmod(0o755)
    proc = run_adb(adb_port, "-s", serial, "push", str(src), "/data/local/tmp/a/b/c/tool.sh")
    assert proc.returncode == 0, proc.stderr
    node = lab.call(lambda: lab.handsets[0].fs.stat("/data/local/tmp/a/b/c/tool.sh"))
    assert node.mode & 0o777 == 0o755
    listing = run_adb(adb_port, "-s", serial, "ls", "/data/local/tmp/a/b/c")
    assert "tool.sh" in listing.stdout


def test_push_of_a_folder(lab: VirtualLab, adb_port: int, serial: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "one.txt").write_text("1")
    (tree / "sub" / "two.txt").write_text("2")
    proc = run_adb(adb_port, "-s", serial, "push", str(tree), "/sdcard/")
    assert proc.returncode == 0, proc.stderr
    assert device_file(lab, "/sdcard/tree/sub/two.txt") == b"2"
    back = tmp_path / "back"
    assert run_adb(adb_port, "-s", serial, "pull", "/sdcard/tree", str(back)).returncode == 0
    assert (back / "sub" / "two.txt").read_text() == "2"


def test_pull_of_a_missing_file_fails_cleanly(lab: VirtualLab, adb_port: int, serial: str, tmp_path: Path) -> None:
    proc = run_adb(adb_port, "-s", serial, "pull", "/sdcard/missing.bin", str(tmp_path / "x"))
    assert proc.returncode == 1
    assert "No such file or directory" in proc.stdout + proc.stderr  # adb 29 reports on stdout
    assert not (tmp_path / "x").exists()
    assert run_adb(adb_port, "-s", serial, "shell", "echo still here").stdout == "still here\n"


def test_push_into_system_is_read_only_without_root(
    lab: VirtualLab, adb_port: int, serial: str, tmp_path: Path
) -> None:
    src = tmp_path / "f.txt"
    src.write_text("x")
    proc = run_adb(adb_port, "-s", serial, "push", str(src), "/system/f.txt")
    assert proc.returncode == 1
    assert "Read-only file system" in proc.stdout + proc.stderr, proc
    assert not lab.call(lambda: lab.handsets[0].fs.exists("/system/f.txt"))


def sync_request(tag: bytes, path: bytes) -> bytes:
    return struct.pack("<4sI", tag, len(path)) + path


@pytest.mark.parametrize(
    ("request_bytes", "message"),
    [
        (struct.pack("<4sI", b"ZZZZ", 0), b"unknown command"),
        (struct.pack("<4sI", b"STAT", 5000), b"path too long"),
        (struct.pack("<4sI", b"DATA", 4), b"outside SEND"),
        (sync_request(b"SEND", b"/sdcard/x,33188") + struct.pack("<4sI", b"JUNK", 0), b"invalid data message"),
        (sync_request(b"SEND", b"/sdcard/x,rwx") , b"bad SEND mode"),
        (sync_request(b"STAT", b"\xff\xfe"), b"not valid UTF-8"),
    ],
)
def test_malformed_sync_requests_get_fail_and_the_daemon_keeps_serving(
    lab: VirtualLab, adb_port: int, serial: str, request_bytes: bytes, message: bytes
) -> None:
    sock = smart_socket(adb_port, f"host:transport:{serial}", "sync:")
    try:
        sock.sendall(request_bytes)
        tag, length = struct.unpack("<4sI", recv_exactly(sock, 8))
        assert tag == b"FAIL"
        assert message in recv_exactly(sock, length)
    finally:
        sock.close()
    assert run_adb(adb_port, "-s", serial, "shell", "echo still here").stdout == "still here\n"


def test_stat_and_list_v1_v2_over_the_wire(lab: VirtualLab, adb_port: int, serial: str) -> None:
    sock = smart_socket(adb_port, f"host:transport:{serial}", "sync:")
    try:
        sock.sendall(sync_request(b"STAT", b"/system/build.prop"))
        tag, mode, size, _mtime = struct.unpack("<4sIII", recv_exactly(sock, 16))
        assert tag == b"STAT"
        assert mode & 0o170000 == 0o100000
        assert size > 0
        sock.sendall(sync_request(b"STA2", b"/nope"))
        reply = recv_exactly(sock, 72)
        assert reply[:4] == b"STA2"
        assert struct.unpack_from("<I", reply, 4)[0] == 2  # ENOENT
        sock.sendall(sync_request(b"LIST", b"/system"))  # ppadb and adbutils list with v1
        names = []
        while True:
            tag, _mode, _size, _mtime, length = struct.unpack("<4sIIII", recv_exactly(sock, 20))
            if tag == b"DONE":
                break
            assert tag == b"DENT"
            names.append(recv_exactly(sock, length).decode())
        assert {".", "..", "build.prop", "bin"} <= set(names)
        sock.sendall(struct.pack("<4sI", b"QUIT", 0))
        assert sock.recv(1) == b""
    finally:
        sock.close()
