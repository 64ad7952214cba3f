"""Rebuild a sweep's tables and RD plots from its row files.

    python -m bench.table results/<sweep> [--metrics psnr_rgb ms_ssim_rgb_db]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.plot import rd_plot
from bench.store import RowStore


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--metrics", nargs="+", default=["psnr_rgb", "ms_ssim_rgb_db"])
    args = ap.parse_args(argv)
    store = RowStore(args.sweep_dir)
    if not store.rows_dir.is_dir():
        print(f"error: {store.rows_dir} does not exist: not a sweep folder", file=sys.stderr)
        return 2
    paths = store.write_tables()
    df = store.frame()
    plots = [p for m in args.metrics for p in rd_plot(df, m, store.dir / f"rd_{m}")]
    print(f"{len(df)} rows -> {', '.join(str(p) for p in paths.values())}")
    print("plots: " + ", ".join(str(p) for p in plots if p.suffix == ".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
