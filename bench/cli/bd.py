"""`bench bd results/<sweep>`: the BD-rate / BD-metric matrix of a sweep against an anchor, with
bootstrap confidence intervals over images (method: bench.analysis.bd)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.analysis.bd import METHODS, bd_matrix, format_matrix
from bench.analysis.published import load_many
from bench.cli.common import require_ok, user_errors
from bench.results.tables import load_rows


@user_errors
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench bd", description="BD-rate / BD-metric matrix of a sweep against an anchor, "
                                 "with bootstrap CIs over images.")
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--anchor", help="anchor codec (default: the VVC intra codec, e.g. vtm_420_10bit / vvenc_420_10bit)")
    ap.add_argument("--metrics", nargs="+", help="default: every metric in the sweep (MS-SSIM in dB)")
    ap.add_argument("--method", choices=METHODS, default="pchip")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples over images (0 = no CI)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--published", nargs="+", default=[], type=Path, help="CompressAI result JSON files to include")
    ap.add_argument("--csv", type=Path, help="write the long table (one row per codec x metric) here")
    args = ap.parse_args(argv)
    df = require_ok(load_rows(args.sweep_dir), args.sweep_dir)
    pubs = load_many(args.published, sweep_codecs=set(df["codec"]) if "codec" in df else ())
    table, results = bd_matrix(df, args.anchor, args.metrics, method=args.method, n_boot=args.boot, seed=args.seed, published=pubs)
    print(format_matrix(results))
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
        print(f"\nlong table: {args.csv}")
    return 0
