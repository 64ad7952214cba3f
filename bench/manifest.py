"""Write the manifest of a set of checkpoints (demo models shipped in codecs/demo/).

    python -m bench.manifest codecs/demo/*.pth.tar --out codecs/demo/manifest.json \
        [--kodak-summary results/kodak/summary.csv --codec demo_hyperprior]

One entry per file: rate point (the zoo quality whose lambda the model was trained at), file,
architecture, N, M, metric, lambda, training steps (including the model it was fine-tuned from),
data, sha256, size; and, when a sweep summary is given, the measured Kodak averages of that point.
The adapter (`weights=manifest`) checks every file's sha256 against this manifest before loading.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.images import sha256_file
from bench.learned import ZOO_LAMBDAS, read_checkpoint
from bench.store import atomic_write_bytes


def zoo_point(metric: str, lmbda: float) -> int:
    table = ZOO_LAMBDAS[metric]
    return min(table, key=lambda q: abs(table[q] - lmbda))


def entry(path: Path, out_dir: Path, by_name: dict) -> dict:
    _, meta = read_checkpoint(path)
    steps = int(meta.get("steps", 0))
    parent = Path(str(meta.get("init_from") or "")).name
    chain = [parent] if parent else []
    if parent and parent in by_name:
        steps += int(by_name[parent].get("steps", 0))
    return {
        "point": zoo_point(meta["metric"], float(meta["lmbda"])), "file": str(path.resolve().relative_to(out_dir.resolve())),
        "arch": meta["arch"], "N": meta["N"], "M": meta["M"], "metric": meta["metric"], "lambda": float(meta["lmbda"]),
        "steps_total": steps, "steps_this_file": int(meta.get("steps", 0)), "fine_tuned_from": chain,
        "patch": meta.get("patch"), "batch": meta.get("batch"), "data": meta.get("data"), "data_glob": meta.get("data_glob"),
        "weights_dtype": meta.get("weights_dtype", "float32"), "sha256": sha256_file(path), "bytes": path.stat().st_size,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--kodak-summary", type=Path, help="summary.csv of a Kodak sweep of these checkpoints")
    ap.add_argument("--codec", default="demo_hyperprior", help="codec name of those rows in the summary")
    ap.add_argument("--note", default="Pipeline demos trained on CPU in minutes: far below CompressAI's zoo models.")
    args = ap.parse_args(argv)
    metas = {p.name: read_checkpoint(p)[1] for p in args.checkpoints}
    entries = sorted((entry(p, args.out.parent, metas) for p in args.checkpoints), key=lambda e: e["point"])
    if args.kodak_summary:
        import pandas as pd

        s = pd.read_csv(args.kodak_summary)
        s = s[s.codec == args.codec]
        for e in entries:
            row = s[s.point == e["point"]]
            if len(row):
                r = row.iloc[0]
                e["kodak"] = {"n_images": int(r.n_images), "bpp": round(float(r.bpp), 4), "psnr_rgb": round(float(r.psnr_rgb), 3),
                              "ms_ssim_rgb": round(float(r.ms_ssim_rgb), 5), "aggregate": "mean of per-image values"}
    doc = {"note": args.note, "checkpoints": entries}
    atomic_write_bytes(args.out, (json.dumps(doc, indent=1) + "\n").encode())
    print(f"wrote {args.out}: points {[e['point'] for e in entries]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
