"""`bench report results/<sweep>`: write report.md and report.html (RD plots, visual comparisons at matched
rate with one page per image, BD tables with CIs and their statistics, perception-distortion section,
provenance) into the sweep folder; `--screenshot` renders the page in headless Chromium and checks its layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.analysis.bd import METHODS
from bench.cli.common import user_errors
from bench.report.panels import PanelOptions
from bench.report.report import write_report


@user_errors
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench report", description="Write results/<sweep>/report.md and report.html.")
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--anchor", help="anchor codec for the BD tables (default: the VVC intra codec)")
    ap.add_argument("--published", nargs="+", default=[], type=Path, help="CompressAI result JSON files to overlay and compare")
    ap.add_argument("--method", choices=METHODS, default="pchip")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples over images (0 = no CI)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--metrics", nargs="+", help="default: every metric in the sweep (MS-SSIM in dB)")
    v = ap.add_argument_group("visual comparisons (panels at matched rate, one page per image)")
    v.add_argument("--no-panels", action="store_true", help="no panels and no per-image pages")
    v.add_argument("--panel-images", nargs="+", metavar="IMAGE", help="only these images (default: every image)")
    v.add_argument("--panel-bpp", nargs="+", type=float, default=[], metavar="BPP",
                   help="one panel per target rate; each codec at its point nearest it (default: --panel-match)")
    v.add_argument("--panel-match", metavar="CODEC[:POINT]",
                   help="target = this codec's point (default: the learned codec, else the anchor, at its point inside the "
                        "rate range every codec covers where the others' nearest points come closest)")
    v.add_argument("--panel-region", default="auto", metavar="auto|lpips|X,Y,W,H",
                   help="auto: where the tiles differ most; lpips: where the codecs' LPIPS maps differ most; or a region")
    v.add_argument("--panel-crop", type=int, default=128, help="side of the crop in pixels of the original (default 128)")
    v.add_argument("--panel-codecs", nargs="+", metavar="CODEC", help="codecs in the panels, in this order (default: all)")
    v.add_argument("--no-error-maps", action="store_true", help="tiles without their error maps")
    v.add_argument("--inline-panels", type=int, default=2, help="panels shown in the report itself (default 2; all on the pages)")
    v.add_argument("--originals", nargs="+", default=[], type=Path, metavar="DIR",
                   help="folders holding the original pictures (default: the sweep's dataset configs); matched by sha256")
    ap.add_argument("--screenshot", nargs="?", const="", metavar="PNG",
                    help="render report.html in headless Chromium (1280 px wide) to PNG (default: report_screenshot.png "
                         "beside it) and check that nothing widens the page; exit 1 when something does")
    args = ap.parse_args(argv)
    panels = None if args.no_panels else PanelOptions(
        target_bpp=tuple(args.panel_bpp), match=args.panel_match, region=args.panel_region, crop=args.panel_crop,
        error_maps=not args.no_error_maps, images=args.panel_images, codecs=args.panel_codecs)
    md = write_report(args.sweep_dir, args.anchor, args.published, method=args.method, n_boot=args.boot, seed=args.seed,
                      metrics=args.metrics, panels=panels, originals=args.originals, inline_panels=args.inline_panels)
    html = md.with_suffix(".html")
    print(f"report: {md} and {html}")
    if args.screenshot is not None:
        from bench.report.screenshot import layout, screenshot

        png = screenshot(html, Path(args.screenshot) if args.screenshot else html.with_name("report_screenshot.png"))
        lay = layout(html)
        print(f"screenshot: {png} (1280 x 2000 window); layout: document {lay.scroll_width} px wide in a "
              f"{lay.client_width} px window" + ("" if lay.fits else f", too wide ({lay.overflow or 'page'} overflows)"))
        return 0 if lay.fits else 1
    return 0
