"""`bench manifest CHECKPOINTS... --out manifest.json`: the checksummed manifest of a set of
checkpoints (the demo models in codecs/demo/), optionally with a Kodak sweep's averages per point."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.common import user_errors
from bench.training.manifest import write_manifest


@user_errors
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench manifest", description="Write the manifest of a set of checkpoints.")
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--kodak-summary", type=Path, help="summary.csv of a Kodak sweep of these checkpoints")
    ap.add_argument("--codec", default="demo_hyperprior", help="codec name of those rows in the summary")
    ap.add_argument("--parents", nargs="*", type=Path, default=[],
                    help="checkpoints they were fine-tuned from that are not listed (read for steps and lineage)")
    ap.add_argument("--note", default="Demo models trained on CPU (see the training fields of each entry).")
    args = ap.parse_args(argv)
    doc = write_manifest(args.checkpoints, args.out, args.kodak_summary, args.codec, args.note, args.parents)
    print(f"wrote {args.out}: points {[e['point'] for e in doc['checkpoints']]}")
    return 0
