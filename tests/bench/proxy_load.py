"""Load generator for the proxy bench, in its own process (the GIL stays with the proxy under test).

    python -m tests.bench.proxy_load            # prints "UPSTREAM <port>", then for each line
                                                # "HOST PORT SECONDS" on stdin runs the load and
                                                # prints the number of completed flows
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from collections.abc import Callable

from tests.capture.helpers import upstream

CLIENTS = 8
BODY = b"x" * 288


def run_clients(connect: Callable[[], http.client.HTTPConnection], url: str, headers: dict[str, str],
                seconds: float) -> int:
    """CLIENTS threads, each posting BODY to `url` over its own connection for `seconds`: flows done."""
    counts = [0] * CLIENTS
    stop = time.monotonic() + seconds

    def client(slot: int) -> None:
        conn = connect()
        try:
            while time.monotonic() < stop:
                conn.request("POST", url, body=BODY, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    counts[slot] += 1
        except OSError:
            pass
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(slot,)) for slot in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    return sum(counts)


def load(proxy: tuple[str, int], port: int, seconds: float) -> int:
    return run_clients(lambda: http.client.HTTPConnection(*proxy, timeout=10), f"http://lab.test:{port}/bench", {},
                       seconds)


def main() -> None:
    with upstream() as server:
        print("UPSTREAM", server.port, flush=True)
        for line in sys.stdin:
            host, port, seconds = line.split()
            print(load((host, int(port)), server.port, float(seconds)), flush=True)


if __name__ == "__main__":
    main()
