"""`bench table results/<sweep> [--metrics psnr_rgb ms_ssim_rgb_db ...] [--compact]`: rebuild a sweep's
tables (results.parquet, results.csv, codecs.csv, provenance.csv, summary.csv) and RD plots from its
rows, folding the loose row files into a Parquet shard first when there are many (or, with
--compact, whenever there are any)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import metrics as M
from bench.cli.common import user_errors
from bench.results.store import RowStore


@user_errors
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench table", description=__doc__.splitlines()[0].split(": ", 1)[1])
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--metrics", nargs="+", default=list(M.PRIMARY), help="RD plots to draw (default: %(default)s)")
    ap.add_argument("--compact", action="store_true", help="fold every loose row file into a Parquet shard first")
    args = ap.parse_args(argv)
    store = RowStore(args.sweep_dir).require()
    if args.compact:
        shard = store.compact(min_rows=1)
        print(f"rows folded into {shard}" if shard else "no loose row files to fold")
    from bench.report.derived import rebuild

    done = rebuild(store.dir, plot_metrics=args.metrics, force=True, log=print)
    import pyarrow.parquet as pq

    n = pq.read_metadata(done.tables["parquet"]).num_rows if done.tables else 0
    print(f"{n} rows -> {', '.join(str(p) for p in done.tables.values()) or 'no table (no rows)'}")
    print("plots: " + (", ".join(str(p) for p in done.plots if p.suffix == ".png") or "none"))
    invalid = store.invalid()
    if invalid:
        shown = "; ".join(f"{name}: {why}" for name, why in invalid[:3]) + ("; ..." if len(invalid) > 3 else "")
        print(f"{len(invalid)} file(s) in {store.rows_dir} are not trustworthy rows, left out ({shown}); "
              "a sweep computes their units again")
    return 0
