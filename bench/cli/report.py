"""`bench report results/<sweep>`: write report.md and report.html (RD plots, BD tables with CIs,
perception-distortion section, provenance) into the sweep folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.analysis.bd import METHODS
from bench.cli.common import user_errors
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
    args = ap.parse_args(argv)
    md = write_report(args.sweep_dir, args.anchor, args.published, method=args.method, n_boot=args.boot, seed=args.seed,
                      metrics=args.metrics)
    print(f"report: {md} and {md.with_suffix('.html')}")
    return 0
