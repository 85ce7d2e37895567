"""Load generator for the gateway bench: a process inside the handset's namespace.

    python -m tests.bench.gateway_load NETNS    # then, per line "IP HOSTHEADER SECONDS" on stdin,
                                                # prints the number of completed flows

8 keep-alive HTTP clients, 288-byte bodies (as tests.bench.proxy_load), sent straight to the
address as a handset's app does: the gateway's rules take them to the proxy.
"""

from __future__ import annotations

import http.client
import sys

from devicelab.capture.gateway.nsthread import NETNS_DIR, setns
from tests.bench.proxy_load import run_clients


def load(address: str, host: str, seconds: float) -> int:
    return run_clients(lambda: http.client.HTTPConnection(address, 80, timeout=10), "/bench", {"Host": host},
                       seconds)


def main() -> None:
    setns(f"{NETNS_DIR}/{sys.argv[1]}")  # the main thread, before any client thread: they inherit it
    for line in sys.stdin:
        address, host, seconds = line.split()
        print(load(address, host, float(seconds)), flush=True)


if __name__ == "__main__":
    main()
