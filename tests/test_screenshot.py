"""The report in a real browser: headless Chromium renders it (screenshot) and reports its layout, so
"wide tables scroll inside their box instead of widening the page" is checked where it matters.
Skips with the reason when Chromium is not installed (Debian: apt-get install -y chromium)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.report.markdown import markdown_to_html
from bench.report.screenshot import chromium, layout, screenshot
from tests.rd_synth import rows, write_sweep

pytestmark = pytest.mark.skipif(chromium() is None, reason="headless Chromium not installed (Debian: apt-get install -y chromium)")

WIDE = ("# wide\n\n| " + " | ".join(f"column {i}" for i in range(30)) + " |\n|" + "---|" * 30 + "\n| "
        + " | ".join(f"`value_{i}_without_any_break_{'x' * 20}`" for i in range(30)) + " |\n")


def test_a_wide_table_scrolls_in_its_box_and_the_check_can_fail(tmp_path):
    page = tmp_path / "wide.html"
    html = markdown_to_html(WIDE)
    page.write_text(html)
    lay = layout(page)
    assert lay.client_width == 1280 and lay.scroll_width == 1280 and lay.fits
    # the same table without its scrolling box widens the page, and the check says so
    bare = tmp_path / "bare.html"
    bare.write_text(html.replace('<div class="table-wrap">', "<div>"))
    lay = layout(bare)
    assert lay.scroll_width > 1280 and not lay.fits and lay.overflow


def test_screenshot_of_a_report(tmp_path):
    from bench.cli.report import main

    sweep = write_sweep(tmp_path / "s", rows(n_images=3))
    png = tmp_path / "shot.png"
    assert main([str(sweep), "--boot", "20", "--metrics", "psnr_rgb", "--no-panels", "--screenshot", str(png)]) == 0
    im = np.asarray(Image.open(png).convert("L"))
    assert im.shape == (2000, 1280)
    assert im.std() > 10 and (im < 100).mean() > 0.002  # text and plots, not a blank page
    assert screenshot(sweep / "report.html", tmp_path / "again.png", width=800, height=600).is_file()
