"""Rebuild a sweep's tables and RD plots from its row files.

    python -m bench.table results/<sweep> [--metrics psnr_rgb ms_ssim_rgb_db]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.errors import exit_on_user_error
from bench.plot import rd_plot
from bench.store import RowStore


@exit_on_user_error
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--metrics", nargs="+", default=["psnr_rgb", "ms_ssim_rgb_db"])
    args = ap.parse_args(argv)
    store = RowStore(args.sweep_dir).require()
    paths = store.write_tables()
    df = store.frame()
    plots = [p for m in args.metrics for p in rd_plot(df, m, store.dir / f"rd_{m}")]
    print(f"{len(df)} rows -> {', '.join(str(p) for p in paths.values())}")
    print("plots: " + ", ".join(str(p) for p in plots if p.suffix == ".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
