"""`bench table results/<sweep> [--metrics psnr_rgb ms_ssim_rgb_db ...]`: rebuild a sweep's tables
(results.parquet, results.csv, summary.csv) and RD plots from its row files."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import metrics as M
from bench.cli.common import user_errors
from bench.report.figures import rd_plot
from bench.results.store import RowStore
from bench.results.tables import frame, write_tables


@user_errors
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench table", description=__doc__.splitlines()[0].split(": ", 1)[1])
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--metrics", nargs="+", default=list(M.PRIMARY), help="RD plots to draw (default: %(default)s)")
    args = ap.parse_args(argv)
    store = RowStore(args.sweep_dir).require()
    df = frame(store)
    paths = write_tables(store, df)
    plots = [p for m in args.metrics for p in rd_plot(df, m, store.dir / f"rd_{m}")]
    print(f"{len(df)} rows -> {', '.join(str(p) for p in paths.values()) or 'no table (no rows)'}")
    invalid = store.invalid()
    if invalid:
        shown = "; ".join(f"{name}: {why}" for name, why in invalid[:3]) + ("; ..." if len(invalid) > 3 else "")
        print(f"{len(invalid)} file(s) in {store.rows_dir} are not trustworthy rows, left out ({shown}); "
              "a sweep computes their units again")
    print("plots: " + (", ".join(str(p) for p in plots if p.suffix == ".png") or "none"))
    return 0
