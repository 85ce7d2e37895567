"""What a reader sees: the HTML report rendered by headless Chromium (Debian's `chromium`).

scripts/bootstrap.sh installs chromium when it runs as root; elsewhere these tests skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from devicelab.reports.html import to_html
from tests.reports import helpers as h

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed: "
                                "`apt-get install -y chromium` (scripts/bootstrap.sh does it as root)")
TIMEOUT_S = 60
PWNED = re.compile(r"<body[^>]*\bdata-pwned=")


def render(page: Path, profile: Path, screenshot: Path | None = None) -> str:
    """The DOM after Chromium loaded `page` (scripts allowed to run, if the page had any)."""
    assert CHROMIUM is not None
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--window-size=1280,2000", "--dump-dom"]
    if screenshot is not None:
        argv.append(f"--screenshot={screenshot}")
    done = subprocess.run([*argv, page.resolve().as_uri()], capture_output=True, text=True, timeout=TIMEOUT_S,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_reader_sees_the_verdict_and_the_zzhc_finding(out: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    dom = render(out / "report.html", tmp_path / "profile", shot)
    assert '<h1 class="word">FAIL</h1>' in dom
    assert "this build must not ship" in dom
    assert "zzhc.vnet.cn" in dom
    assert "body &gt; base64 &gt; json:SIM1ICCID" in dom
    assert '<mark class="id">⟦iccid' in dom
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        red, green, blue = image.convert("RGB").getpixel((20, 20))  # the banner: the colour of a fail
        assert red > 150
        assert green < 80
        assert blue < 80


def test_markup_in_traffic_never_runs(tmp_path: Path) -> None:
    # Control: in this very browser set-up a page's script does run and leaves its mark.
    control = tmp_path / "control.html"
    control.write_text(f"<!doctype html><html><head><title>t</title></head><body>{h.SCRIPT}</body></html>")
    assert PWNED.search(render(control, tmp_path / "profile"))
    page = tmp_path / "hostile.html"
    page.write_text(to_html(h.hostile_run()), encoding="utf-8")
    dom = render(page, tmp_path / "profile")
    assert not PWNED.search(dom)
    assert "<title>pwned</title>" not in dom
    assert "&lt;script&gt;document.title='pwned'" in dom  # shown as text instead
