"""`bench published show FILE.json ...` / `bench published export results/<sweep>`: read CompressAI
result JSON files in our column names, or write a sweep's averaged curves in that format."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.analysis.published import export_sweep, load
from bench.cli.common import require_ok, user_errors
from bench.results.tables import load_rows


@user_errors
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench published", description="Read and write CompressAI result JSON.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sh = sub.add_parser("show", help="print published curves in our column names")
    sh.add_argument("files", nargs="+", type=Path)
    ex = sub.add_parser("export", help="write a sweep's averaged curves as CompressAI JSON (one file per codec)")
    ex.add_argument("sweep_dir", type=Path)
    ex.add_argument("--out", type=Path, help="default: <sweep_dir>/compressai/")
    args = ap.parse_args(argv)
    if args.cmd == "show":
        for f in args.files:
            p = load(f)
            print(f"{p.name}  ({f}; dataset {p.dataset or '?'}; {p.description})")
            for n in p.notes:
                print(f"  note: {n}")
            print(p.curve.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
            print()
    else:
        paths = export_sweep(require_ok(load_rows(args.sweep_dir), args.sweep_dir), args.out or args.sweep_dir / "compressai")
        print("\n".join(str(p) for p in paths))
    return 0
