"""Load generator for the gateway bench: a process inside the handset's namespace.

    python -m tests.bench.gateway_load NETNS    # then, per line "IP HOSTHEADER SECONDS" on stdin,
                                                # prints the number of completed flows

8 keep-alive HTTP clients, 288-byte bodies (as tests.bench.proxy_load), sent straight to the
address as a handset's app does: the gateway's rules take them to the proxy.
"""

from __future__ import annotations

import http.client
import sys
import threading
import time

from devicelab.capture.gateway.nsthread import NETNS_DIR, setns
from tests.bench.proxy_load import BODY, CLIENTS


def load(address: str, host: str, seconds: float) -> int:
    counts = [0] * CLIENTS
    stop = time.monotonic() + seconds

    def client(slot: int) -> None:
        conn = http.client.HTTPConnection(address, 80, timeout=10)
        try:
            while time.monotonic() < stop:
                conn.request("POST", "/bench", body=BODY, headers={"Host": host})
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


def main() -> None:
    setns(f"{NETNS_DIR}/{sys.argv[1]}")  # the main thread, before any client thread: they inherit it
    for line in sys.stdin:
        address, host, seconds = line.split()
        print(load(address, host, float(seconds)), flush=True)


if __name__ == "__main__":
    main()
