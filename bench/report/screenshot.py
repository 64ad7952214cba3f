"""Render a report page in a real browser: headless Chromium (Debian's `chromium` package) writes a PNG
screenshot, and a second run reads the page's layout back (how wide the document is at the window's
width), so "no table widens the page" is checked by the browser, not assumed.

    bench report results/<sweep> --screenshot            # report.html -> report_screenshot.png
    scripts/screenshot_report.sh results/<sweep>/report.html out.png [1280 2000]

Every run gets a new empty profile folder (removed afterwards) and no network: Chromium's own
background services, component updates and sync are switched off, as the flags below say.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import BenchError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
# Put into a copy of the page: after layout, the document's width and the widest element that overflows
# the window are written into the DOM, which --dump-dom prints.
_PROBE = """<script>window.addEventListener('load', function () {
  var W = document.documentElement.clientWidth, worst = '', worstW = 0;
  document.querySelectorAll('body *').forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.right > W + 1 && r.width > worstW && !e.closest('.table-wrap, pre')) { worst = e.tagName; worstW = r.right; }
  });
  var m = document.createElement('meta'); m.name = 'bench-layout';
  m.content = 'scrollWidth=' + document.documentElement.scrollWidth + ';clientWidth=' + W + ';overflow=' + worst;
  document.head.appendChild(m);
});</script>"""


def chromium() -> str | None:
    """The Chromium executable on PATH, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: int) -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        raise BenchError("headless Chromium not found (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="bench-chromium-") as profile:
        try:
            return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"chromium did not finish within {timeout} s") from None


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2000, timeout: int = 120) -> Path:
    """`html` rendered in a width x height window, written to `png`."""
    html, png = Path(html).resolve(), Path(png).resolve()
    if not html.is_file():
        raise BenchError(f"{html}: no such page")
    png.parent.mkdir(parents=True, exist_ok=True)
    if png.exists():
        png.unlink()
    proc = _run([f"--window-size={width},{height}", f"--screenshot={png}", html.as_uri()], timeout)
    if not png.is_file():
        tail = " | ".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise BenchError(f"chromium wrote no screenshot of {html} (exit {proc.returncode}): {tail}")
    return png


@dataclass
class Layout:
    scroll_width: int  # the document's width in CSS px
    client_width: int  # the window's
    overflow: str  # tag of the widest element reaching past the window outside a scrolling box ('' = none)

    @property
    def fits(self) -> bool:
        return self.scroll_width <= self.client_width and not self.overflow


def layout(html: Path, width: int = 1280, height: int = 2000, timeout: int = 120) -> Layout:
    """How the page lays out at `width`: read back from the browser through a probe in a copy of the page
    (written beside it, so its relative links still resolve, and removed afterwards)."""
    html = Path(html).resolve()
    text = html.read_text(encoding="utf-8")
    probe = html.with_name(f".{html.stem}.layout-probe.html")
    probe.write_text(text.replace("</body>", _PROBE + "</body>") if "</body>" in text else text + _PROBE, encoding="utf-8")
    try:
        proc = _run([f"--window-size={width},{height}", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()], timeout)
    finally:
        probe.unlink(missing_ok=True)
    dom = proc.stdout.decode("utf-8", "replace")
    m = re.search(r'name="bench-layout" content="scrollWidth=(\d+);clientWidth=(\d+);overflow=([A-Za-z0-9]*)"', dom)
    if not m:
        raise BenchError(f"chromium gave no layout for {html} (exit {proc.returncode})")
    return Layout(int(m[1]), int(m[2]), m[3])
