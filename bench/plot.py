"""RD plots from the per-image rows: one curve per codec, each point the mean over images."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.store import summarize

LABELS = {"psnr_rgb": "PSNR-RGB [dB]", "psnr_y": "PSNR-Y [dB]", "psnr_yuv": "PSNR-YUV 6:1:1 [dB]",
          "ms_ssim_rgb": "MS-SSIM (RGB)", "ms_ssim_rgb_db": "MS-SSIM-RGB [dB]"}


def rd_plot(df: pd.DataFrame, metric: str, out_stem: Path) -> list[Path]:
    """Write <out_stem>.png and .svg; returns the paths (none when there is nothing to draw)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(df)
    if summary.empty or metric not in summary:
        return []
    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    for codec, g in summary.groupby("codec", sort=True):
        g = g.sort_values("bpp")
        ax.plot(g["bpp"], g[metric], marker="o", ms=4, lw=1.5, label=f"{codec} (n={int(g['n_images'].max())})")
    datasets = ", ".join(sorted(summary["dataset"].unique()))
    ax.set_xlabel("bits per pixel (real bitstream bytes / original pixels)")
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.set_title(f"{datasets}: mean over images of per-image bpp and {metric}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    paths = [out_stem.with_suffix(".png"), out_stem.with_suffix(".svg")]
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    for p in paths:
        fig.savefig(p)
    plt.close(fig)
    return paths
