"""A capture in its own process, for the crash test: prints its port, then runs until killed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from devicelab.capture import Capture, CaptureConfig


def main() -> None:
    workdir, upstream_port = Path(sys.argv[1]), int(sys.argv[2])
    config = CaptureConfig(upstream_hosts={"lab.test": ("127.0.0.1", upstream_port)}, upstream_only=True)
    capture = Capture(workdir, config).start()
    print("READY", *capture.address, flush=True)
    time.sleep(120)  # the test kills us long before


if __name__ == "__main__":
    main()
