"""Published RD curves in CompressAI's result JSON format: read them as "published" codecs, and
write our dataset-averaged curves in the same format.

    bench published show FILE.json [FILE.json ...]
    bench published export results/<sweep> [--out DIR]

CompressAI's format (compressai/utils/plot, results/image/<dataset>/*.json):
    {"name": ..., "description": ..., "meta"?: {source, url, opt_metric, dataset, device, ...},
     "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...], "encoding_time": [...], ...}}
one array entry per rate point, each the mean over the dataset's images.  Key mapping to our
columns: bpp -> bpp, psnr-rgb -> psnr_rgb, ms-ssim-rgb -> ms_ssim_rgb, ms-ssim-db-rgb ->
ms_ssim_rgb_db, encoding_time -> encode_s, decoding_time -> decode_s, any other key with '-' -> '_'.

MS-SSIM in dB: a published file holds only the mean MS-SSIM, so its `ms_ssim_rgb_db` is derived as
-10 log10(1 - mean MS-SSIM), the dB of the mean.  Our sweeps average per-image dB values, which is
never lower (the dB map is convex): the derivation is recorded in `Published.notes`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes
from bench.metrics import METRICS
from bench.results.tables import summarize

FROM_COMPRESSAI = {"bpp": "bpp", "psnr-rgb": "psnr_rgb", "ms-ssim-rgb": "ms_ssim_rgb", "ms-ssim-db-rgb": "ms_ssim_rgb_db",
                   "encoding_time": "encode_s", "decoding_time": "decode_s"}
TO_COMPRESSAI = {v: k for k, v in FROM_COMPRESSAI.items()}


def _col(key: str) -> str:
    return FROM_COMPRESSAI.get(key, key.replace("-", "_"))


def _key(col: str) -> str:
    return TO_COMPRESSAI.get(col, col.replace("_", "-"))


@dataclass
class Published:
    name: str  # the codec label in tables and plots
    description: str
    meta: dict
    curve: pd.DataFrame  # columns: point (0..n-1, in file order), bpp, psnr_rgb, ms_ssim_rgb, ms_ssim_rgb_db, ...
    path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def dataset(self) -> str:
        """meta.dataset, else the folder name (CompressAI keeps files under results/image/<dataset>/)."""
        if self.meta.get("dataset"):
            return str(self.meta["dataset"])
        return self.path.parent.name if self.path is not None else ""

    @property
    def source(self) -> str:
        return str(self.meta.get("source") or self.meta.get("url") or (self.path.name if self.path else ""))


def from_dict(data: dict, path: Path | None = None, name: str | None = None) -> Published:
    if "results" not in data or "bpp" not in data["results"]:
        raise BenchError(f"{path or 'data'}: not a CompressAI result file (no results.bpp)")
    res = data["results"]
    n = len(res["bpp"])
    cols: dict[str, Any] = {"point": list(range(n))}
    notes: list[str] = []
    for k, v in res.items():
        if not isinstance(v, list):
            continue
        if len(v) != n:
            notes.append(f"results.{k} has {len(v)} values, bpp has {n}: ignored")
            continue
        cols[_col(k)] = [math.nan if x is None else float(x) for x in v]
    curve = pd.DataFrame(cols)
    if "ms_ssim_rgb" in curve and "ms_ssim_rgb_db" not in curve:
        with np.errstate(divide="ignore"):
            curve["ms_ssim_rgb_db"] = -10 * np.log10(1 - curve["ms_ssim_rgb"])
        notes.append("ms_ssim_rgb_db derived as the dB of the published mean MS-SSIM (our sweeps: mean of per-image dB)")
    elif "ms_ssim_rgb_db" in curve and "ms_ssim_rgb" not in curve:
        curve["ms_ssim_rgb"] = 1 - 10 ** (-curve["ms_ssim_rgb_db"] / 10)
        notes.append("ms_ssim_rgb derived from the published MS-SSIM dB values")
    label = name or str(data.get("name") or (path.stem if path else "published"))
    return Published(label, str(data.get("description", "")), dict(data.get("meta") or {}), curve, path, notes)


def load(path: str | Path, name: str | None = None) -> Published:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"published result file not found: {path}") from None
    except ValueError as exc:
        raise BenchError(f"{path}: not JSON ({exc})") from None
    return from_dict(data, path, name)


def load_many(paths, sweep_codecs=()) -> list[Published]:
    """Load files; a name that clashes with a sweep codec or an earlier file gets ' (published)' / the file stem."""
    out: list[Published] = []
    taken = set(sweep_codecs)
    for p in paths:
        pub = p if isinstance(p, Published) else load(p)
        if pub.name in taken:
            base = f"{pub.name} (published)" if pub.name in sweep_codecs else pub.name
            name, k = base, 2
            if name in taken and pub.path is not None:
                name = f"{pub.name} ({pub.path.stem})"
            while name in taken:
                name, k = f"{base} #{k}", k + 1
            pub.name = name
        taken.add(pub.name)
        out.append(pub)
    return out


# ----------------------------------------------------------------------------------------- export


def _clean(values) -> list:
    return [None if (v is None or (isinstance(v, float) and not math.isfinite(v))) else float(v) for v in values]


def to_compressai(df: pd.DataFrame, codec: str) -> dict:
    """One codec of a sweep as a CompressAI result dict: the mean over images of per-image values,
    points in increasing bpp, every metric of bench.metrics.METRICS present, plus mean encode/decode
    seconds; provenance in `meta`."""
    rows = df[(df["codec"] == codec) & (df["status"] == "ok")]
    if rows.empty:
        raise KeyError(f"codec {codec!r} has no ok rows")
    s = summarize(rows).sort_values("bpp")
    times = rows.groupby("point")[[c for c in ("encode_s", "decode_s") if c in rows]].mean()
    results: dict[str, list] = {"bpp": _clean(s["bpp"])}
    for m in METRICS:
        if m in s and s[m].notna().any():
            results[_key(m)] = _clean(s[m])
    for c in times.columns:
        results[_key(c)] = _clean(times.reindex(s["point"])[c])

    def first(col):
        return str(rows[col].iloc[0]) if col in rows and len(rows[col].dropna()) else None

    encoder = first("encoder")
    meta = {
        "source": "lic-bench", "dataset": ",".join(sorted(rows["dataset"].astype(str).unique())),
        "n_images": int(s["n_images"].min()), "aggregate": "mean over images of per-image values (PSNR in dB, MS-SSIM dB per image)",
        "points": [p.item() if hasattr(p, "item") else p for p in s["point"]], "point_name": first("point_name"),
        "encoder": encoder, "codec_params": first("codec_params"), "codec_hash": first("codec_hash"),
        "colour": {k: first(f"colour_{k}") for k in ("matrix", "range", "chroma", "bit_depth") if f"colour_{k}" in rows},
        "git_revision": first("git_revision"), "bench_version": first("bench_version"), "device": "cpu",
        "bpp": "real bitstream bytes x 8 / original pixels",
    }
    desc = f"lic-bench {codec}" + (f": {encoder.split(' Copyright')[0]}" if encoder else "")
    return {"name": codec, "description": desc, "meta": meta, "results": results}


def export_sweep(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One <codec>.json per codec of the rows, in CompressAI's format."""
    paths = []
    ok = df[df["status"] == "ok"] if "status" in df else df
    for codec in sorted(ok["codec"].unique()):
        p = Path(out_dir) / f"{codec}.json"
        atomic_write_bytes(p, (json.dumps(to_compressai(df, codec), indent=2) + "\n").encode())
        paths.append(p)
    return paths
