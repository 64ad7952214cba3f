"""`bench check results/<sweep> --baseline results/baselines/<name> [--update]`: the CI regression
check on bitrate (bytes, metrics, BD-rate drift) against a committed baseline; exit 1 on a
regression.  What is compared and why: bench.analysis.regression."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from bench.analysis.bd import default_anchor
from bench.analysis.regression import (DEFAULT_BD_TOL, DEFAULT_METRIC_TOL, _tolerances, baseline_frame, bd_drift,
                                       compare_rows, format_bd, format_rows, read_baseline, tolerance, write_baseline)
from bench.cli.common import user_errors
from bench.core.errors import BenchError
from bench.core.provenance import git_revision
from bench.results.tables import load_rows


@user_errors
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench check", description="Compare a sweep with a committed baseline; "
                                 "exit 1 on a regression.", formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--baseline", type=Path, required=True, help="baseline folder (rows.csv, meta.json)")
    ap.add_argument("--update", action="store_true", help="rewrite the baseline from the sweep (prints what changes)")
    ap.add_argument("--bpp-tol", nargs="+", default=[], metavar="[CODEC=]REL", help="relative bytes tolerance (default 0: exact)")
    ap.add_argument("--metric-tol", nargs="+", default=[], metavar="[METRIC=]ABS", help=f"default {DEFAULT_METRIC_TOL:g}")
    ap.add_argument("--bd-tol", type=float, help=f"BD-rate drift tolerance in percentage points (default {DEFAULT_BD_TOL:g})")
    ap.add_argument("--anchor", help="BD anchor codec")
    ap.add_argument("--all", action="store_true", help="print every row")
    args = ap.parse_args(argv)

    df = load_rows(args.sweep_dir)
    if df.empty or "status" not in df:
        raise BenchError(f"{args.sweep_dir} has no rows")
    current = baseline_frame(df)
    if args.update and current.empty:
        raise BenchError(f"{args.sweep_dir} has no ok rows (all {len(df)} failed): no baseline written (it would check nothing)")
    failed = df[df["status"] != "ok"]
    for r in failed.itertuples():
        print(f"sweep: failed unit {r.codec} {r.image} point={r.point}: {getattr(r, 'error', '')}", file=sys.stderr)

    try:
        base, meta = read_baseline(args.baseline)
    except FileNotFoundError as exc:
        if not args.update:
            raise BenchError(str(exc)) from None
        base, meta = None, {}
    except BenchError as exc:  # unreadable, or values no comparison can decide
        if not args.update:
            raise
        print(f"baseline not usable ({exc}): --update writes it anew")
        base, meta = None, {}
    committed = meta.get("tolerances", {})
    bpp_tol = _tolerances(args.bpp_tol, committed.get("bpp_rel", {}), 0.0, "--bpp-tol")
    metric_tol = _tolerances(args.metric_tol, committed.get("metric_abs", {}), DEFAULT_METRIC_TOL, "--metric-tol")
    bd_tol = tolerance(args.bd_tol, "--bd-tol") if args.bd_tol is not None else \
        tolerance(committed.get("bd_points", DEFAULT_BD_TOL), "bd_points (meta.json)")
    anchor = args.anchor or meta.get("anchor")

    code = 0
    if base is not None:
        diff = compare_rows(base, current, bpp_tol, metric_tol)
        bd, anchor = bd_drift(base, current, anchor, bd_tol)
        print(f"baseline {args.baseline} ({len(base)} rows, written {meta.get('written', '?')}) vs sweep {args.sweep_dir} ({len(current)} ok rows)")
        print("tolerances: bytes " + ", ".join(f"{k}: {v * 100:g} %" for k, v in bpp_tol.items())
              + "; metrics " + ", ".join(f"{k}: {v:g}" for k, v in metric_tol.items()) + f"; BD drift {bd_tol:g} points")
        print()
        print(format_rows(diff, args.all))
        print()
        print(format_bd(bd, anchor, bd_tol))
        bad_rows = diff[diff["status"] != "ok"]
        bad_bd = bd[bd["status"] != "ok"] if not bd.empty else bd
        print()
        if len(bad_rows) or len(bad_bd):
            counts = bad_rows["status"].value_counts().to_dict()
            what = ", ".join(f"{n} {s}" for s, n in counts.items())
            if len(bad_bd):
                what += (", " if what else "") + f"{len(bad_bd)} BD-rate drift(s)"
            if args.update:
                print(f"UPDATE: rewriting the baseline over these differences ({what})")
            else:
                print(f"FAIL: {what}. If the change is intended, rewrite the baseline:\n"
                      f"  bench check {args.sweep_dir} --baseline {args.baseline} --update")
                code = 1
        else:
            print("PASS: the sweep matches the baseline")
    if args.update:
        codecs = sorted(current["codec"].unique())
        keep = {k: meta[k] for k in ("tolerances", "comment") if k in meta}  # what people write by hand
        new_meta = {**keep, "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "sweep": args.sweep_dir.name, "datasets": sorted(current["dataset"].unique()), "git_revision": git_revision(), "rows": len(current),
                    "anchor": anchor if anchor in codecs else (default_anchor(codecs) if codecs else None),
                    "codecs": {c: current.loc[current["codec"] == c, "encoder"].iloc[0] for c in codecs}}
        new_meta.setdefault("tolerances", {})
        write_baseline(args.baseline, current, new_meta)
        print(f"baseline written: {args.baseline}/rows.csv ({len(current)} rows) and meta.json")
        code = 0
    return code
