"""How fast the virtual u2 server answers `dumpWindowHierarchy` over raw HTTP, and what the
client's TCP_NODELAY is worth when it writes a request's head and body separately (as some
clients do): the ~40 ms Nagle / delayed-ACK stall the protocol notes measured."""

from __future__ import annotations

import json
import socket
import statistics
import time

import pytest

from tests.virtual.ui_helpers import LoopThread, Uia2Process, boot

ROUNDS = 25
BODY = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "dumpWindowHierarchy", "params": [False, 50]}).encode()
HEAD = (f"POST /jsonrpc/0 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n").encode()


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int(headers[b"Content-Length"])
    while len(body) < length:
        body += sock.recv(65536)
    return body


def median_call_ms(address: tuple[str, int], *, nodelay: bool, split: bool) -> float:
    """Median latency of one call on a kept-alive connection."""
    samples = []
    with socket.create_connection(address, timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay))
        for _ in range(ROUNDS):
            start = time.perf_counter()
            if split:
                sock.sendall(HEAD)
                sock.sendall(BODY)
            else:
                sock.sendall(HEAD + BODY)
            body = read_response(sock)
            samples.append(time.perf_counter() - start)
            assert b"<hierarchy" in body
    return statistics.median(samples) * 1000


@pytest.mark.bench
def test_bench_dump_hierarchy_latency() -> None:
    loop = LoopThread()
    try:
        handset = loop.call(boot())
        server = Uia2Process(loop, handset).start()
        address = handset.local_ports[9008]
        results = {(nodelay, split): median_call_ms(address, nodelay=nodelay, split=split)
                   for nodelay in (True, False) for split in (False, True)}
        server.stop()
    finally:
        loop.close()
    print("\ndumpWindowHierarchy over raw HTTP, median of", ROUNDS, "calls on one kept-alive connection:")
    for (nodelay, split), ms in results.items():
        print(f"  client TCP_NODELAY={'on ' if nodelay else 'off'} request in {'2 writes' if split else '1 write '}:"
              f" {ms:6.2f} ms")
    stall = results[(False, True)] / results[(True, True)]
    print(f"  head+body in two writes without TCP_NODELAY is {stall:.1f}x slower than with it")
