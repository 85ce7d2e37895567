"""The fastboot-over-TCP framing of the virtual bootloader, driven byte by byte: what a real
client never sends must still get a FAIL (or a closed connection), never a dead target."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

import pytest

from devicelab.virtual.fastboot.sparse import BLOCK, SparseWriter
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.lab import VirtualLab
from tests.virtual.fastboot_helpers import TIMEOUT, Client, in_bootloader, running_lab, target


@pytest.fixture(scope="module")
def fb_lab() -> Iterator[VirtualLab]:
    with running_lab() as lab:
        yield lab


@pytest.fixture
def lab(fb_lab: VirtualLab) -> VirtualLab:
    return fb_lab


@pytest.fixture
def handset(fb_lab: VirtualLab) -> VirtualHandset:
    return in_bootloader(fb_lab)


@pytest.fixture
def client(handset: VirtualHandset) -> Iterator[Client]:
    c = Client(target(handset).port)
    assert c.hello() == b"FB01"
    yield c
    c.close()


def _read(lab: VirtualLab, h: VirtualHandset, partition: str) -> bytes:
    return lab.call(lambda: h.storage.read(partition))


def test_getvar_over_the_raw_protocol(client: Client, handset: VirtualHandset) -> None:
    assert client.command("getvar:serialno") == b"OKAY" + handset.hardware.serialno.encode()
    assert client.command("getvar:nonsense") == b"FAIL" + b"GetVar Variable Not found"
    assert client.command("getvar:partition-type:system") == b"OKAYraw"  # the current slot is appended


def test_unknown_and_empty_commands_fail(client: Client) -> None:
    assert client.command("frobnicate") == b"FAILunknown command"
    assert client.command("") == b"FAILunknown command"
    assert client.command("getvar:product") == b"OKAYB2N"


def test_download_in_one_frame_then_flash(lab: VirtualLab, client: Client, handset: VirtualHandset) -> None:
    data = os.urandom(3 * BLOCK)
    assert client.command(f"download:{len(data):08x}") == f"DATA{len(data):08x}".encode()
    client.frame(data)
    assert client.reply() == b"OKAY"
    assert client.command("flash:dtbo") == b"OKAY"
    assert _read(lab, handset, "dtbo_a") == data


def test_download_split_across_frames(lab: VirtualLab, client: Client, handset: VirtualHandset) -> None:
    data = os.urandom(2 * BLOCK + 100)
    client.command(f"download:{len(data):08x}")
    for start in range(0, len(data), 3000):
        client.frame(data[start : start + 3000])
    assert client.reply() == b"OKAY"
    assert client.command("flash:misc") == b"OKAY"
    assert _read(lab, handset, "misc") == data


def test_sparse_dont_care_keeps_blocks_already_flashed(
    lab: VirtualLab, client: Client, handset: VirtualHandset
) -> None:
    base, patch = os.urandom(3 * BLOCK), os.urandom(BLOCK)
    for image in (base, SparseWriter().dont_care(1).raw(patch).dont_care(1).build()):
        client.command(f"download:{len(image):08x}")
        client.frame(image)
        assert client.reply() == b"OKAY"
        assert client.command("flash:vendor_b") == b"OKAY"
    assert _read(lab, handset, "vendor_b") == base[:BLOCK] + patch + base[2 * BLOCK :]


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("download:00000000", b"FAILFailed to get the number of bytes to download"),
        ("download:zz", b"FAILFailed to get the number of bytes to download"),
        ("download:123456789", b"FAILInvalid argument size"),
        ("download:7fffffff", b"FAILRequested download size is more than max allowed"),
        ("flash:system", b"FAILNo data to flash"),
        ("set_active", b"FAILset_active _a or _b should be entered"),
        ("set_active:c", b"FAILInvalid Slot Suffix"),
        ("set_active:_ab", b"FAILInvalid Slot"),
        ("erase:nosuch", b"FAILCheck device console."),
        ("erase:" + "x" * 40, b"FAILInvalid partition name"),
        ("flashing unlock", b"FAILDevice already : unlocked!"),
    ],
)
def test_bad_requests_fail_with_the_bootloader_text(client: Client, command: str, reply: bytes) -> None:
    assert client.command(command) == reply
    assert client.command("getvar:product") == b"OKAYB2N"  # the session goes on


def test_set_active_with_suffix(lab: VirtualLab, client: Client, handset: VirtualHandset) -> None:
    assert client.command("set_active:_b") == b"OKAY"
    assert client.command("getvar:current-slot") == b"OKAYb"
    assert lab.call(lambda: handset.storage.current_slot) == "b"


def test_flash_unknown_partition_and_oversize_image(client: Client) -> None:
    data = os.urandom(BLOCK)
    client.command(f"download:{len(data):08x}")
    client.frame(data)
    client.reply()
    assert client.command("flash:nosuch") == b"FAIL(nosuch_a) No such partition"
    big = os.urandom(2 * 1024 * 1024)
    client.command(f"download:{len(big):08x}")
    client.frame(big)
    client.reply()
    assert client.command("flash:misc") == b"FAILError flashing partition : Volume Full"  # misc is 1 MiB


def test_truncated_download_flashes_nothing(lab: VirtualLab, client: Client, handset: VirtualHandset) -> None:
    before = _read(lab, handset, "boot_a")
    client.command(f"download:{2 * BLOCK:08x}")
    client.sock.sendall(struct.pack(">Q", 2 * BLOCK) + os.urandom(BLOCK))  # half of it, then hang up
    client.close()
    again = Client(target(handset).port)
    try:
        assert again.hello() == b"FB01"
        assert again.command("flash:boot") == b"FAILNo data to flash"
    finally:
        again.close()
    assert _read(lab, handset, "boot_a") == before


def test_data_frame_overrunning_the_download_is_refused(client: Client, handset: VirtualHandset) -> None:
    client.command(f"download:{BLOCK:08x}")
    client.frame(os.urandom(2 * BLOCK))
    assert client.reply().startswith(b"FAIL")
    assert client.closed()
    _assert_target_serves(handset)


def test_huge_command_frame_is_refused_and_target_survives(client: Client, handset: VirtualHandset) -> None:
    client.sock.sendall(struct.pack(">Q", 1 << 40))
    assert client.reply().startswith(b"FAIL")
    assert client.closed()
    _assert_target_serves(handset)


def test_bad_handshake_is_closed(handset: VirtualHandset) -> None:
    bad = Client(handset.fastbootd.port, handshake=b"HELO")  # type: ignore[union-attr]
    try:
        assert bad.closed()
    finally:
        bad.close()
    _assert_target_serves(handset)


def test_connections_are_refused_outside_the_bootloader(lab: VirtualLab, handset: VirtualHandset) -> None:
    port = target(handset).port
    lab.call(lambda: handset.reboot("system"))
    lab.call(handset.wait_for_state(BootState.BOOTING, TIMEOUT), timeout=TIMEOUT + 1)
    with pytest.raises(ConnectionRefusedError):
        Client(port)
    assert target(handset).port == port  # the port is kept for the next boot into the bootloader
    handset = in_bootloader(lab)
    assert target(handset).port == port
    _assert_target_serves(handset)


def _assert_target_serves(handset: VirtualHandset) -> None:
    fresh = Client(target(handset).port)
    try:
        assert fresh.hello() == b"FB01"
        assert fresh.command("getvar:product") == b"OKAYB2N"
    finally:
        fresh.close()


def test_a_failing_command_costs_one_fail_not_the_session(
    lab: VirtualLab, client: Client, handset: VirtualHandset, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(slot: str) -> None:
        raise RuntimeError("simulated bug")

    lab.call(lambda: monkeypatch.setattr(handset.storage, "set_active", broken))
    assert client.command("set_active:b") == b"FAILinternal error: RuntimeError"
    assert client.command("getvar:serialno") == b"OKAY" + handset.hardware.serialno.encode()


@pytest.mark.parametrize(
    ("partition", "blocks", "reply"),
    [
        ("misc", 512, b"FAILError flashing partition : Volume Full"),  # 2 MiB into 1 MiB
        ("system", 600 * 256, b"FAILError flashing partition : Out of Resources"),  # 600 MiB: over the RAM cap
    ],
)
def test_sparse_image_too_large_is_refused_before_expanding(
    lab: VirtualLab, client: Client, handset: VirtualHandset, partition: str, blocks: int, reply: bytes
) -> None:
    before = _read(lab, handset, partition)
    image = SparseWriter().dont_care(blocks).build()
    client.command(f"download:{len(image):08x}")
    client.frame(image)
    assert client.reply() == b"OKAY"
    assert client.command(f"flash:{partition}") == reply
    assert _read(lab, handset, partition) == before
