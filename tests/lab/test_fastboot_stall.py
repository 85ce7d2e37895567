"""A fastboot that stops printing has lost its link: the harness gives up after `stall`, not `timeout`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devicelab.errors import FastbootTimeoutError
from devicelab.handset.fastboot import Fastboot


@pytest.fixture
def stuck_fastboot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `fastboot` on PATH that sends one image, starts the next (no newline yet) and never ends,
    as fastboot 29 does when its TCP link closes mid-session."""
    fake = tmp_path / "bin" / "fastboot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf \"Sending 'boot_a' (4 KB)   OKAY\\nSending 'vendor_a' (4 KB)\"\n"
                    "exec sleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    return fake


def test_no_progress_ends_the_call_long_before_its_timeout(stuck_fastboot: Path) -> None:
    start = time.monotonic()
    with pytest.raises(FastbootTimeoutError) as info:
        Fastboot("tcp:127.0.0.1:9", label="B2N1").update(Path("img.zip"), timeout=60, stall=0.5)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "[B2N1] update img.zip: no progress for 0.5 s after \"Sending 'vendor_a' (4 KB)\"" in message


def test_without_a_stall_limit_the_timeout_still_bounds_it(stuck_fastboot: Path) -> None:
    with pytest.raises(FastbootTimeoutError, match="no answer after 1 s"):
        Fastboot("tcp:127.0.0.1:9", label="B2N1").run("getvar", "product", timeout=1)
