"""Synthetic sweep rows for the RD-analysis tests: shaped like real rows, computed in microseconds.

Each image i has its own difficulty; a codec is a rate factor (bits it needs relative to the
anchor at equal quality) on a curve linear in log10(bpp), so BD-rates are known in closed form:
BD-rate = (rate_factor - 1) x 100 %.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.results.store import RowStore
from bench.results.tables import write_tables

W, H = 400, 300


def quality(bpp, offset, slope=8.0):
    return 30.0 + offset + slope * np.log10(np.asarray(bpp) / 0.5)


def rows(codecs: dict[str, float] | None = None, n_images: int = 6, points=(22, 27, 32, 37), seed: int = 1,
         noise: float = 0.0, identical: bool = False, dataset: str = "synth") -> pd.DataFrame:
    """codecs: name -> rate factor at equal quality (1.0 = the anchor's curve)."""
    codecs = codecs or {"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.10, "jpeg": 1.8}
    rng = np.random.default_rng(seed)
    offsets = np.zeros(n_images) if identical else rng.normal(0, 1.5, n_images)
    scales = np.ones(n_images) if identical else np.exp(rng.normal(0, 0.3, n_images))
    out = []
    for c_i, (codec, factor) in enumerate(codecs.items()):
        pts = points if not isinstance(factor, tuple) else factor[1]
        f = factor if not isinstance(factor, tuple) else factor[0]
        for i in range(n_images):
            for p in pts:
                bpp_anchor = scales[i] * 1.2 * 2 ** (-(p - 22) / 5)
                psnr = float(quality(bpp_anchor, offsets[i]) + (0 if identical else rng.normal(0, noise)))
                bpp = bpp_anchor * f
                nbytes = int(round(bpp * W * H / 8))
                bpp = 8 * nbytes / (W * H)
                db = psnr - 14.0
                out.append({
                    "key": f"{codec}-{i}-{p}", "status": "ok", "error": "", "dataset": dataset, "image": f"img{i:02d}",
                    "image_sha256": f"{i:064x}", "codec": codec, "point": p, "adapter": codec.split("_")[0],
                    "point_name": "qp", "codec_hash": f"hash{c_i}", "codec_params": "{}", "encoder": f"{codec} 1.0",
                    "width": W, "height": H, "pixels": W * H, "bytes": nbytes, "bpp": bpp, "psnr_rgb": psnr,
                    "ms_ssim_rgb": 1 - 10 ** (-db / 10), "ms_ssim_rgb_db": db, "encode_s": 0.01, "decode_s": 0.01,
                    "git_revision": "abc123", "packages": '{"numpy": "1.26.4"}', "host": "testhost", "platform": "linux",
                    "cpus": "2", "threads": 1, "timestamp": "2026-01-01T00:00:00+00:00", "colour_matrix": "bt709",
                    "colour_range": "limited", "colour_chroma": "444", "colour_bit_depth": 10,
                })
    return pd.DataFrame(out)


def write_sweep(folder, df: pd.DataFrame):
    """Row files + tables, as a real sweep leaves them."""
    store = RowStore(folder)
    for r in df.to_dict("records"):
        store.write({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    write_tables(store)
    return folder
