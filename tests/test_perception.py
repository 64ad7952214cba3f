"""The perception-distortion analysis on synthetic rows with a known rank flip."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bench.analysis import perception
from bench.report import perception as perception_report
from bench.results.store import RowStore
from tests.helpers import ROOT

# PSNR orders the codecs A > B > C at every rate; LPIPS orders them C > B > A (a flip for every pair);
# VMAF agrees with PSNR; DISTS agrees with PSNR for A vs B only and flips B vs C and A vs C.
OFFSET = {"A": 1.0, "B": 0.0, "C": -1.0}
RATES = {"A": [0.2, 0.4, 0.8, 1.6], "B": [0.25, 0.5, 1.0, 2.0], "C": [0.3, 0.6, 1.2, 2.4]}
DISTS_OFFSET = {"A": -0.01, "B": 0.0, "C": -0.03}


def synthetic(images=("i1", "i2", "i3"), flip_image_i3=False) -> pd.DataFrame:
    rows = []
    for k, img in enumerate(images):
        for codec, rates in RATES.items():
            for p, bpp in enumerate(rates):
                t = math.log2(bpp / 0.2)
                lp = 0.3 - 0.05 * t + 0.02 * OFFSET[codec]
                if flip_image_i3 and img == "i3":
                    lp = 0.3 - 0.05 * t - 0.02 * OFFSET[codec]  # on this image LPIPS agrees with PSNR
                rows.append({"key": f"{img}{codec}{p}", "status": "ok", "dataset": "syn", "image": img, "codec": codec,
                             "point": p, "bpp": bpp * (1 + 0.05 * k), "bytes": round(bpp * (1 + 0.05 * k) * 1000),
                             "psnr_rgb": 30 + 4 * t + OFFSET[codec] + k,
                             "lpips_alex": lp - 0.01 * k,
                             "vmaf": 50 + 10 * t + 2 * OFFSET[codec] + k,
                             "dists": 0.2 - 0.03 * t + DISTS_OFFSET[codec]})
    return pd.DataFrame(rows)


def test_every_rank_flip_is_listed_and_agreeing_metrics_are_not():
    ok = perception.prepare(synthetic(), ["psnr_rgb", "lpips_alex", "vmaf", "dists"])
    pairs = perception.pairwise(ok, ["lpips_alex", "vmaf", "dists"])
    flips = perception.rank_flips(pairs)
    got = {(r.codec_a, r.codec_b, r.metric): (r.reference_winner, r.metric_winner) for r in flips.itertuples()}
    assert got == {
        ("A", "B", "lpips_alex"): ("A", "B"),
        ("A", "C", "lpips_alex"): ("A", "C"),
        ("B", "C", "lpips_alex"): ("B", "C"),
        ("A", "C", "dists"): ("A", "C"),
        ("B", "C", "dists"): ("B", "C"),
    }
    assert (flips["images_disagreeing"] == 3).all() and (flips["n_images"] == 3).all()
    psnr_ab = pairs[(pairs.metric == "psnr_rgb") & (pairs.codec_a == "A") & (pairs.codec_b == "B")].iloc[0]
    assert psnr_ab.winner_equal_rate == "A" and psnr_ab.delta_equal_rate > 0
    lp_ab = pairs[(pairs.metric == "lpips_alex") & (pairs.codec_a == "A") & (pairs.codec_b == "B")].iloc[0]
    assert lp_ab.delta_equal_rate > 0 and lp_ab.winner_equal_rate == "B"  # higher LPIPS = worse
    if np.isfinite(lp_ab.bd_rate_pct):  # bench.bd present: A needs more bits for the same LPIPS
        assert lp_ab.bd_rate_pct > 0 and lp_ab.basis.startswith("BD-rate")


def test_without_bd_stage_the_equal_rate_verdict_gives_the_same_flips(monkeypatch):
    monkeypatch.setattr(perception, "_bd_rate", lambda a, b, m: (math.nan, "bench.bd not available"))
    ok = perception.prepare(synthetic(), ["psnr_rgb", "lpips_alex", "vmaf"])
    pairs = perception.pairwise(ok, ["lpips_alex", "vmaf"])
    assert set(pairs["basis"]) == {"equal-rate delta"}
    flips = perception.rank_flips(pairs)
    assert sorted(flips["metric"]) == ["lpips_alex"] * 3


def test_per_image_disagreement_counts_only_disagreeing_images():
    ok = perception.prepare(synthetic(flip_image_i3=True), ["psnr_rgb", "lpips_alex"])
    flips = perception.rank_flips(perception.pairwise(ok, ["lpips_alex"]))
    assert len(flips) == 3 and (flips["images_disagreeing"] == 2).all()


def test_rankings_and_rank_correlations():
    ok = perception.prepare(synthetic(), ["psnr_rgb", "lpips_alex", "vmaf"])
    rk = perception.rankings(ok, ["lpips_alex", "vmaf"])
    order = {m: list(g.sort_values("rank")["codec"]) for m, g in rk.groupby("metric")}
    assert order == {"psnr_rgb": ["A", "B", "C"], "lpips_alex": ["C", "B", "A"], "vmaf": ["A", "B", "C"]}
    co = perception.correlations(ok, ["lpips_alex", "vmaf"]).set_index(["scope", "metric_a", "metric_b"])
    matched = [s for s in co.index.get_level_values(0) if "matched" in s][0]
    rows = "rows of the image (codecs x points)"
    # codecs at equal rate: PSNR and LPIPS order them oppositely, PSNR and VMAF alike
    assert co.loc[(matched, "psnr_rgb", "lpips_alex"), "kendall_mean"] == pytest.approx(-1)
    assert co.loc[(matched, "psnr_rgb", "lpips_alex"), "spearman_mean"] == pytest.approx(-1)
    assert co.loc[(matched, "psnr_rgb", "vmaf"), "kendall_mean"] == pytest.approx(1)
    # over all rows of an image, rate dominates: high but not perfect agreement with LPIPS
    assert 0 < co.loc[(rows, "psnr_rgb", "lpips_alex"), "spearman_mean"] < 1
    assert co.loc[(rows, "psnr_rgb", "vmaf"), "n_images"] == 3
    per = perception.correlations_per_image(ok, ["lpips_alex", "vmaf"])
    assert set(per["image"]) == {"i1", "i2", "i3"}


def test_at_equal_psnr_the_metric_decides():
    # at equal PSNR the rate axis drops out: only the offsets and slopes of the synthetic curves remain
    ok = perception.prepare(synthetic(), ["psnr_rgb", "lpips_alex", "vmaf"])
    eq = perception.at_equal_reference(ok, ["lpips_alex", "vmaf"]).set_index(["codec_a", "codec_b", "metric"])
    # LPIPS: at equal PSNR (A is 1 dB = 0.25 octave ahead), A's LPIPS is higher by 0.02 + 0.05 * 0.25
    assert eq.loc[("A", "B", "lpips_alex"), "delta_at_equal_reference"] == pytest.approx(0.02 + 0.05 * 0.25, abs=1e-9)
    assert eq.loc[("A", "B", "lpips_alex"), "winner_at_equal_reference"] == "B"
    # VMAF is 10 per octave and PSNR 4 per octave, so at equal PSNR A (offset +2) is ahead by 2 - 2.5 = -0.5
    assert eq.loc[("A", "B", "vmaf"), "delta_at_equal_reference"] == pytest.approx(2 - 10 * 0.25, abs=1e-9)


def test_images_missing_a_codec_are_left_out_of_every_mean():
    df = synthetic(images=("i1", "i2", "i3", "i4"))
    df = df[~((df.image == "i4") & (df.codec == "C"))]
    ok = perception.prepare(df, ["psnr_rgb", "lpips_alex"])
    assert sorted(ok.image.unique()) == ["i1", "i2", "i3"]


def test_markdown_section_and_command_write_figures_and_tables(tmp_path):
    df = synthetic()
    md = perception_report.markdown_section(df, tmp_path, metrics=["lpips_alex", "dists", "vmaf"])
    assert md.startswith("## Perception-distortion analysis")
    assert "Rank flips" in md and "| A | B | A |" in md and "lpips_alex" in md
    for stem in ("pd_scatter_lpips_alex", "pd_scatter_dists", "pd_rd_lpips_alex"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 1000 and (tmp_path / f"{stem}.svg").is_file()
    assert "(pd_scatter_lpips_alex.png)" in md

    sweep = tmp_path / "sweep"
    store = RowStore(sweep)
    for r in df.to_dict("records"):
        store.write(r)
    proc = subprocess.run([sys.executable, "-m", "bench", "perception", str(sweep)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "5 rank flip(s) against psnr_rgb" in proc.stdout
    assert (sweep / "perception.md").read_text().startswith("## Perception-distortion analysis")
    flips = pd.read_csv(sweep / "perception_flips.csv")
    assert len(flips) == 5 and set(flips.metric) == {"lpips_alex", "dists"}
    bad = subprocess.run([sys.executable, "-m", "bench", "perception", str(tmp_path / "nope")], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "not a sweep folder" in bad.stderr
