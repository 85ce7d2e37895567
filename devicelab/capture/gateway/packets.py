"""The packet record of one handset: every frame on the gateway's link to it, into a pcap
(nanosecond timestamps, Ethernet) and a connection table.

An AF_PACKET socket bound to the gateway's interface sees packets before netfilter: what the
gateway drops (QUIC) is still recorded. The direction comes from the socket address's packet
type (OUTGOING: toward the handset), not from addresses. The table is keyed by (protocol,
handset ip:port, remote ip:port) with packets and payload bytes each way, first and last time
and, for TCP, the flags seen: the ground truth every flow the proxy read is reconciled with.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from devicelab.errors import CaptureError

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33
RCVBUF = 32 * 1024 * 1024  # the kernel doubles it; with the rmem_max cap it drops frames in bursts
SNAPLEN = 262_144
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, SNAPLEN, 1)  # nanosecond pcap, Ethernet
PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp"}
TCP_FLAGS = "FSRPAU"


@dataclass
class Connection:
    """One row of the connection table."""

    proto: str
    handset: str  # ip:port
    remote: str  # ip:port
    packets_up: int = 0
    packets_down: int = 0
    bytes_up: int = 0  # transport payload bytes, handset -> remote
    bytes_down: int = 0
    first: float = 0.0
    last: float = 0.0
    flags: str = ""  # TCP flags seen (either way)
    payload_up: bytes = field(default=b"", repr=False)  # the first bytes up (the analyser reads raw payloads)

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["payload_up"] = self.payload_up.hex()
        return record


@dataclass(frozen=True)
class Packet:
    proto: str
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes
    flags: str


def parse(frame: bytes) -> Packet | None:
    """An Ethernet frame's IPv4 header and transport ports; None for anything else (ARP, IPv6)."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack_from("!H", ip, 2)[0]
    proto_no = ip[9]
    src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    body = ip[ihl:total] if total >= ihl else ip[ihl:]
    proto = PROTOCOLS.get(proto_no, f"ip{proto_no}")
    if proto == "tcp" and len(body) >= 20:
        sport, dport, _, _, offset, flag_bits = struct.unpack_from("!HHIIBB", body)
        flags = "".join(c for i, c in enumerate(TCP_FLAGS) if flag_bits >> i & 1)
        return Packet(proto, (src, sport), (dst, dport), body[(offset >> 4) * 4:], flags)
    if proto == "udp" and len(body) >= 8:
        sport, dport = struct.unpack_from("!HH", body)
        return Packet(proto, (src, sport), (dst, dport), body[8:], "")
    return Packet(proto, (src, 0), (dst, 0), body, "")


class ConnectionTable:
    KEEP_PAYLOAD = 64 * 1024

    def __init__(self, handset_ip: str) -> None:
        self.handset_ip = handset_ip
        self.rows: dict[tuple[str, str, str], Connection] = {}
        self.other = 0  # frames that are not IPv4 (ARP, IPv6): counted, not tabled

    def add(self, ts: float, frame: bytes, toward_handset: bool) -> None:
        packet = parse(frame)
        if packet is None:
            self.other += 1
            return
        local, remote = (packet.dst, packet.src) if toward_handset else (packet.src, packet.dst)
        if local[0] != self.handset_ip:
            self.other += 1  # the gateway's own chatter on the link
            return
        key = (packet.proto, f"{local[0]}:{local[1]}", f"{remote[0]}:{remote[1]}")
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = Connection(*key, first=ts)
        row.last = ts
        size = len(packet.payload)
        if toward_handset:
            row.packets_down += 1
            row.bytes_down += size
        else:
            row.packets_up += 1
            row.bytes_up += size
            if size and len(row.payload_up) < self.KEEP_PAYLOAD:
                row.payload_up += packet.payload[: self.KEEP_PAYLOAD - len(row.payload_up)]
        row.flags = "".join(c for c in TCP_FLAGS if c in row.flags or c in packet.flags)

    def records(self) -> list[dict[str, Any]]:
        return [row.as_record() for row in sorted(self.rows.values(), key=lambda r: r.first)]


def _involves(frame: bytes, address: bytes) -> bool:
    """An IPv4 frame from or to `address` (4 bytes); ARP and the rest of the link's chatter is kept
    out of a shared interface's per-handset record."""
    return len(frame) >= 34 and frame[12:14] == b"\x08\x00" and address in (frame[26:30], frame[30:34])


class PacketRecorder:
    """Records one interface of the gateway until `stop()`; the socket is made by `open_socket`,
    called in the gateway's namespace."""

    def __init__(self, sock: socket.socket, handset_ip: str, pcap_path: Path, table_path: Path, *,
                 shared: bool = False) -> None:
        self.sock = sock
        #: the interface carries other hosts too (a lab's access point): keep only this handset's IPv4
        self.shared = shared
        self._mine = socket.inet_aton(handset_ip)
        self.table = ConnectionTable(handset_ip)
        self.pcap_path, self.table_path = pcap_path, table_path
        self.frames = 0
        self._pcap: BinaryIO = pcap_path.open("wb")
        self._pcap.write(PCAP_HEADER)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"pcap-{pcap_path.stem}", daemon=True)
        self._thread.start()

    @staticmethod
    def open_socket(ifname: str) -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            sock.bind((ifname, ETH_P_ALL))
        except OSError as exc:
            sock.close()
            raise CaptureError(f"cannot record {ifname}: {exc.strerror or exc}") from None
        sock.settimeout(0.1)
        return sock

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                frame, address = self.sock.recvfrom(SNAPLEN)
            except TimeoutError:
                continue
            except OSError:
                return
            self._take(frame, address)

    def _take(self, frame: bytes, address: tuple[Any, ...]) -> None:
        if self.shared and not _involves(frame, self._mine):
            return
        now = time.time_ns()
        with self._lock:
            self.frames += 1
            self._pcap.write(struct.pack("<IIII", now // 1_000_000_000, now % 1_000_000_000, len(frame), len(frame)))
            self._pcap.write(frame)
            self.table.add(now / 1e9, frame, address[2] == PACKET_OUTGOING)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.table.records()

    def stop(self) -> list[dict[str, Any]]:
        """Drain what the kernel still holds, close the pcap, write the table; returns its rows."""
        self._stop.set()
        self._thread.join(5.0)
        self.sock.setblocking(False)
        while True:
            try:
                frame, address = self.sock.recvfrom(SNAPLEN)
            except (BlockingIOError, OSError):
                break
            self._take(frame, address)
        self.sock.close()
        with self._lock:
            self._pcap.close()
            rows = self.table.records()
        self.table_path.write_text(json.dumps({"handset": self.table.handset_ip, "frames": self.frames,
                                               "other_frames": self.table.other, "connections": rows}, indent=1))
        return rows
