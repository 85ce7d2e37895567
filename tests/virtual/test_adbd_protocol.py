"""The adb packet codec and the shell v2 packet format, without sockets."""

from __future__ import annotations

import pytest

from devicelab.virtual.adbd import protocol, shellv2


def test_header_round_trip_and_one_buffer() -> None:
    raw = protocol.encode(protocol.A_WRTE, 7, 9, b"hello")
    assert len(raw) == protocol.HEADER_SIZE + 5
    header = protocol.decode_header(raw[: protocol.HEADER_SIZE])
    assert (header.name, header.arg0, header.arg1, header.data_length) == ("WRTE", 7, 9, 5)
    assert header.data_check == sum(b"hello")
    assert raw.endswith(b"hello")
    # hosts from version 0x01000001 on ignore the check: 0 spares summing 1 MiB payloads
    unchecked = protocol.encode(protocol.A_WRTE, 1, 2, b"x", with_checksum=False)
    assert protocol.decode_header(unchecked[:24]).data_check == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (protocol.encode(protocol.A_OKAY, 1, 2)[:20], "short header"),
        (protocol.encode(protocol.A_OKAY, 1, 2)[:20] + b"\0\0\0\0", "bad magic"),
        (bytes(protocol.HEADER.pack(1, 0, 0, 0, 0, 1 ^ 0xFFFFFFFF)), "unknown command"),
        (bytes(protocol.HEADER.pack(protocol.A_WRTE, 1, 2, 1 << 30, 0, protocol.A_WRTE ^ 0xFFFFFFFF)), "exceeds"),
    ],
)
def test_bad_headers_are_protocol_errors(raw: bytes, message: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.decode_header(raw)


def test_banner_names_the_product_and_only_implemented_features() -> None:
    props = {"ro.product.name": "Onyx_00WW", "ro.product.model": "Nokia 7 plus", "ro.product.device": "B2N_sprout"}
    text = protocol.banner("device", props).decode()
    assert text.startswith("device::ro.product.name=Onyx_00WW;ro.product.model=Nokia 7 plus;")
    features = text.split("features=")[1].split(",")
    assert "shell_v2" in features
    assert not {"cmd", "abb", "abb_exec", "sendrecv_v2"} & set(features)
    assert protocol.banner("recovery", props).startswith(b"recovery::")


def test_service_names() -> None:
    assert protocol.parse_service(b"shell:echo hi\0") == "shell:echo hi"
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_service(b"\xff\xfe\0")


def test_shell_v2_packets_reassemble_across_chunks() -> None:
    wire = shellv2.pack(shellv2.ID_STDIN, b"abc") + shellv2.pack(shellv2.ID_CLOSE_STDIN, b"")
    parser = shellv2.PacketParser()
    got = [p for i in range(len(wire)) for p in parser.feed(wire[i : i + 1])]
    assert got == [(shellv2.ID_STDIN, b"abc"), (shellv2.ID_CLOSE_STDIN, b"")]
    assert shellv2.pack_exit(300) == b"\x03\x01\x00\x00\x00" + bytes([300 & 0xFF])


def test_shell_v2_rejects_giant_packets() -> None:
    parser = shellv2.PacketParser()
    with pytest.raises(shellv2.ShellProtocolError):
        list(parser.feed(shellv2.PACKET_HEADER.pack(0, 1 << 30)))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (",v2,TERM=xterm,raw:ls -l", (True, "raw", {"TERM": "xterm"}, "ls -l")),
        (",v2,raw:echo a:b", (True, "raw", {}, "echo a:b")),
        (":echo hi", (False, "raw", {}, "echo hi")),
        (":", (False, "pty", {}, "")),
        (",v2,pty:", (True, "pty", {}, "")),
    ],
)
def test_shell_service_arguments(args: str, expected: tuple[bool, str, dict[str, str], str]) -> None:
    assert shellv2.parse_shell_service(args.lstrip(",")) == expected
