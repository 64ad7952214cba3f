"""`bench perception results/<sweep>`: where perceptual metrics and PSNR disagree (rank flips,
pairwise verdicts, rankings, correlations); perception.md, figures and perception_*.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import metrics as M
from bench.cli.common import require_ok, user_errors
from bench.report import perception
from bench.results.store import RowStore
from bench.results.tables import frame


@user_errors
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench perception", description="The perception-distortion analysis of a sweep.")
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--reference", default=M.REFERENCE, help="the distortion metric (default %(default)s)")
    ap.add_argument("--metrics", nargs="+", default=None,
                    help=f"compared columns (default: those of {', '.join(M.compared_columns())} present)")
    args = ap.parse_args(argv)
    store = RowStore(args.sweep_dir).require()
    df = require_ok(frame(store), args.sweep_dir)
    res = perception.write(args.sweep_dir, df, args.metrics, args.reference)
    print(f"[perception] {len(res['ok'])} rows, metrics {', '.join(res['metrics']) or '(none)'}: "
          f"{len(res['flips'])} rank flip(s) against {args.reference}")
    for r in res["flips"].itertuples():
        print(f"  {r.codec_a} vs {r.codec_b}: {args.reference} says {r.reference_winner}, {r.metric} says {r.metric_winner} "
              f"({r.images_disagreeing}/{r.n_images} images disagree)")
    print(f"[perception] wrote {args.sweep_dir / 'perception.md'}, perception_*.csv and "
          + ", ".join(p.name for p in res["figures"]))
    return 0
