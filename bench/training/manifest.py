"""Write the manifest of a set of checkpoints (demo models shipped in codecs/demo/).

    bench manifest codecs/demo/*.pth.tar --out codecs/demo/manifest.json \
        [--kodak-summary results/kodak/summary.csv --codec demo_hyperprior]

One entry per file: rate point (the zoo quality whose lambda the model was trained at), file,
architecture, N, M, metric, lambda, training steps (including the model it was fine-tuned from),
data, sha256, size; and, when a sweep summary is given, the measured Kodak averages of that point.
The adapter (`weights=manifest`) checks every file's sha256 against this manifest before loading.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.codecs.learned.models import ZOO_LAMBDAS, read_checkpoint
from bench.core.files import atomic_write_bytes, sha256_file


def zoo_point(metric: str, lmbda: float) -> int:
    table = ZOO_LAMBDAS[metric]
    return min(table, key=lambda q: abs(table[q] - lmbda))


def entry(path: Path, out_dir: Path, by_name: dict) -> dict:
    """One checkpoint's entry.  Its lineage (`fine_tuned_from`, nearest first) is followed through every
    checkpoint of `by_name` (the set and any parents given apart), so `steps_total` and
    `train_seconds_total` count the whole schedule that made the file."""
    _, meta = read_checkpoint(path)
    steps, seconds = int(meta.get("steps", 0)), float(meta.get("train_seconds") or 0.0)
    chain: list[str] = []
    parent = Path(str(meta.get("init_from") or "")).name
    while parent and parent not in chain:
        chain.append(parent)
        up = by_name.get(parent)
        if up is None:
            break  # a parent we were not given: named, its steps not counted
        steps += int(up.get("steps", 0))
        seconds += float(up.get("train_seconds") or 0.0)
        parent = Path(str(up.get("init_from") or "")).name
    return {
        "point": zoo_point(meta["metric"], float(meta["lmbda"])), "file": str(path.resolve().relative_to(out_dir.resolve())),
        "arch": meta["arch"], "N": meta["N"], "M": meta["M"], "metric": meta["metric"], "lambda": float(meta["lmbda"]),
        "steps_total": steps, "steps_this_file": int(meta.get("steps", 0)), "fine_tuned_from": chain,
        "train_seconds_total": round(seconds, 1), "patch": meta.get("patch"), "batch": meta.get("batch"),
        "lr": meta.get("lr"), "lr_schedule": meta.get("lr_schedule"), "data": meta.get("data"),
        "data_glob": meta.get("data_glob"), "val": meta.get("val"),
        "weights_dtype": meta.get("weights_dtype", "float32"), "sha256": sha256_file(path), "bytes": path.stat().st_size,
    }


def write_manifest(checkpoints: list[Path], out: Path, kodak_summary: Path | None = None, codec: str = "demo_hyperprior",
                   note: str = "", parents: list[Path] = ()) -> dict:
    """Write the manifest of `checkpoints` to `out` (entries sorted by point); with a Kodak sweep's
    summary.csv, each entry gets that point's measured averages.  `parents`: checkpoints they were
    fine-tuned from that are not shipped (read for the lineage only)."""
    metas = {p.name: read_checkpoint(p)[1] for p in [*parents, *checkpoints]}
    entries = sorted((entry(p, out.parent, metas) for p in checkpoints), key=lambda e: e["point"])
    if kodak_summary:
        import pandas as pd

        s = pd.read_csv(kodak_summary)
        s = s[s.codec == codec]
        for e in entries:
            row = s[s.point == e["point"]]
            if len(row):
                r = row.iloc[0]
                e["kodak"] = {"n_images": int(r.n_images), "bpp": round(float(r.bpp), 4), "psnr_rgb": round(float(r.psnr_rgb), 3),
                              "ms_ssim_rgb": round(float(r.ms_ssim_rgb), 5), "aggregate": "mean of per-image values"}
    doc = {"note": note, "checkpoints": entries}
    atomic_write_bytes(out, (json.dumps(doc, indent=1) + "\n").encode())
    return doc
