"""BD-rate / BD-metric: known values, direction, unequal points, overlap warnings, bootstrap CIs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from bench.analysis import bd as B
from bench.cli.bd import main as bd_main
from tests.conftest import REFERENCE
from tests.rd_synth import rows, write_sweep

# The bjontegaard package README example (FAU-LMS/bjontegaard).
RA = [9487.76, 4593.60, 2486.44, 1358.24]
PA = [40.037, 38.615, 36.845, 34.851]
RT = [9787.80, 4469.00, 2451.52, 1356.24]
PT = [40.121, 38.651, 36.970, 34.987]


@pytest.mark.parametrize("method, expected", [("cubic", -4.4205), ("pchip", -4.4175), ("akima", -4.4252)])
def test_package_readme_example(method, expected):
    r = B.bd(RA, PA, RT, PT, method=method)
    assert r.bd_rate == pytest.approx(expected, abs=1e-4)
    assert r.bd_metric > 0 and r.warnings == []


def test_point_order_does_not_matter():
    a = B.bd(RA[::-1], PA[::-1], [RT[i] for i in (2, 0, 3, 1)], [PT[i] for i in (2, 0, 3, 1)])
    assert a.bd_rate == pytest.approx(-4.4175, abs=1e-4)


def _compressai(name):
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"CompressAI published results not found at {REFERENCE} (../shared beside the project)")
    return json.loads(path.read_text())["results"]


@pytest.mark.parametrize("test_file, expected", [
    ("compressai-cheng2020-anchor_mse_cuda.json", 3.68),
    ("compressai-bmshj2018-factorized_mse_cuda.json", 68.10),
])
def test_compressai_published_bd_rates_against_vtm(test_file, expected):
    vtm, t = _compressai("vtm.json"), _compressai(test_file)
    r = B.bd(vtm["bpp"], vtm["psnr-rgb"], t["bpp"], t["psnr-rgb"], method="pchip")  # 8 vs 6 points
    assert r.bd_rate == pytest.approx(expected, abs=0.01)
    # the curves overlap on only part of VTM's range: the package's warning is kept, not swallowed
    assert any("overlap" in w for w in r.warnings)


def test_compressai_files_through_published_and_matrix():
    from bench.analysis.published import load

    if not (REFERENCE / "vtm.json").is_file():
        pytest.skip(f"CompressAI published results not found at {REFERENCE}")
    pubs = [load(REFERENCE / f) for f in ("vtm.json", "compressai-cheng2020-anchor_mse_cuda.json",
                                          "compressai-bmshj2018-factorized_mse_cuda.json")]
    table, _ = B.bd_matrix(pd.DataFrame(columns=["codec", "status"]), None, ["psnr_rgb"], published=pubs)
    got = table.set_index("codec")["bd_rate"]
    assert table["anchor"].unique().tolist() == ["VTM"]  # the default anchor is the VVC codec
    assert got["cheng2020-anchor"] == pytest.approx(3.68, abs=0.01)
    assert got["bmshj2018-factorized"] == pytest.approx(68.10, abs=0.01)
    assert table["bd_rate_ci_low"].isna().all()  # published means: no per-image values, no CI


def test_unequal_point_counts_on_a_known_curve():
    # PCHIP reproduces a straight line in (log rate, quality): a test needing 0.9x the bits is -10 % exactly
    ra = np.array([0.1, 0.2, 0.4, 0.8])
    rt = 0.9 * np.array([0.08, 0.12, 0.2, 0.3, 0.5, 0.9])
    r = B.bd(ra, 30 + 8 * np.log10(ra), rt, 30 + 8 * np.log10(rt / 0.9))
    assert r.bd_rate == pytest.approx(-10.0, abs=1e-9)
    assert r.bd_metric == pytest.approx(-8 * np.log10(0.9), abs=1e-9)


def test_lower_is_better_metric_gives_the_right_sign(monkeypatch):
    from bench.metrics import METRICS

    monkeypatch.setitem(METRICS, "lpips_test", {"higher_is_better": False, "unit": ""})
    rate = np.array([0.1, 0.2, 0.4, 0.8])
    lp_anchor = 0.5 - 0.1 * np.log2(rate / 0.1)  # falls as the rate grows
    lp_test = lp_anchor - 0.03  # better: lower LPIPS at every rate
    r = B.bd(rate, lp_anchor, rate, lp_test, higher_is_better=False)
    assert r.bd_rate < 0  # fewer bits for the same LPIPS
    assert r.bd_metric == pytest.approx(-0.03, abs=1e-9)  # in LPIPS units: lower = better
    assert not any("monotone" in w for w in r.warnings)
    worse = B.bd(rate, lp_anchor, rate, lp_anchor + 0.03, higher_is_better=False)
    assert worse.bd_rate > 0 and worse.bd_metric == pytest.approx(0.03, abs=1e-9)
    # through the matrix: the direction is read from bench.metrics.METRICS
    df = rows({"vvenc_420_10bit": 1.0, "jpeg": 1.0}, n_images=3)
    df["lpips_test"] = np.where(df["codec"] == "jpeg", 0.2, 0.25) - 0.05 * np.log2(df["bpp"])
    table, res = B.bd_matrix(df, None, ["lpips_test"], n_boot=50)
    row = table.iloc[0]
    assert row["codec"] == "jpeg" and row["bd_rate"] < 0 and row["bd_metric"] < 0 and not row["higher_is_better"]
    assert row["bd_rate_ci_low"] <= row["bd_rate"] <= row["bd_rate_ci_high"]


def test_unknown_metric_direction_is_an_error():
    df = rows(n_images=2)
    df["mystery"] = 1.0
    with pytest.raises(KeyError, match="direction"):
        B.bd_matrix(df, None, ["mystery"], n_boot=0)


def test_overlap_warning_is_surfaced_not_printed():
    ra, rt = np.array([0.1, 0.2, 0.4, 0.8]), np.array([0.6, 1.2, 2.4, 4.8])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape as a Python warning
        r = B.bd(ra, 30 + 8 * np.log10(ra), rt, 28 + 8 * np.log10(rt))
    assert np.isfinite(r.bd_rate)
    assert any(w.startswith("BD-rate: curves overlap on only") for w in r.warnings)
    none = B.bd([0.1, 0.2], [20, 22], [1, 2], [40, 42])
    assert np.isnan(none.bd_rate) and any("do not overlap" in w for w in none.warnings)


def test_matrix_reports_overlap_in_its_table_and_printout():
    df = rows({"vvenc_420_10bit": 1.0, "jpeg": 30.0}, n_images=3)  # a far-away curve
    table, res = B.bd_matrix(df, None, ["psnr_rgb"], n_boot=20)
    assert "overlap" in table.loc[0, "warnings"]
    text = B.format_matrix(res)
    assert "warnings" in text and "overlap" in text and "RD points" in text


def test_vectorised_pchip_equals_the_package():
    import bjontegaard

    rng = np.random.default_rng(3)
    for n_a, n_t in [(2, 2), (3, 5), (4, 4), (6, 3)]:
        B_ = 60
        ra = np.sort(rng.uniform(0.05, 3, (B_, n_a)), axis=1)
        rt = np.sort(rng.uniform(0.05, 3, (B_, n_t)), axis=1)
        qa = np.sort(rng.uniform(25, 40, (B_, n_a)), axis=1)
        qt = np.sort(rng.uniform(25, 40, (B_, n_t)), axis=1)
        rate = B._pchip_bd_batch(ra, qa, rt, qt, kind="rate")
        metric = B._pchip_bd_batch(ra, qa, rt, qt, kind="metric")
        for k in range(B_):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want_r = bjontegaard.bd_rate(ra[k], qa[k], rt[k], qt[k], method="pchip", require_matching_points=False)
                want_m = bjontegaard.bd_psnr(ra[k], qa[k], rt[k], qt[k], method="pchip", require_matching_points=False)
            np.testing.assert_allclose([rate[k], metric[k]], [want_r, want_m], rtol=1e-9, atol=1e-9, equal_nan=True)


def test_bootstrap_ci_contains_the_estimate_and_per_image_values():
    df = rows({"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.15}, n_images=10, noise=0.4)
    table, (res,) = B.bd_matrix(df, None, ["psnr_rgb"], n_boot=400, seed=7)
    lo, hi = res.bd_rate_ci
    assert lo < res.bd_rate < hi and hi - lo > 0.5
    assert res.n_images == 10 and len(res.per_image) == 10 and res.n_boot == 400
    assert min(res.per_image.values()) < res.bd_rate < max(res.per_image.values())
    assert res.bd_metric_ci[0] < res.bd_metric < res.bd_metric_ci[1]
    # seeded: the same CI again; another seed: another (close) CI
    _, (again,) = B.bd_matrix(df, None, ["psnr_rgb"], n_boot=400, seed=7)
    assert again.bd_rate_ci == res.bd_rate_ci
    # the package path (akima) also gives a CI around its estimate
    _, (ak,) = B.bd_matrix(df, None, ["psnr_rgb"], n_boot=60, method="akima")
    assert ak.bd_rate_ci[0] <= ak.bd_rate <= ak.bd_rate_ci[1]


def test_bootstrap_on_identical_images_collapses_to_the_estimate():
    df = rows({"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.15}, n_images=5, identical=True)
    _, (res,) = B.bd_matrix(df, None, ["psnr_rgb"], n_boot=200)
    assert res.bd_rate == pytest.approx(15.0, abs=0.05)
    assert res.bd_rate_ci[0] == pytest.approx(res.bd_rate, abs=1e-9)
    assert res.bd_rate_ci[1] == pytest.approx(res.bd_rate, abs=1e-9)
    assert all(v == pytest.approx(res.bd_rate, abs=1e-9) for v in res.per_image.values())


def test_known_bd_rate_on_synthetic_rows_and_ms_ssim_through_db():
    df = rows({"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.10, "jpeg": 1.8}, n_images=4)
    table, res = B.bd_matrix(df, metrics=["psnr_rgb", "ms_ssim_rgb"], n_boot=100)
    assert set(table["anchor"]) == {"vvenc_420_10bit"}
    assert sorted(table["metric"].unique()) == ["ms_ssim_rgb_db", "psnr_rgb"]  # MS-SSIM via its dB form
    got = table.set_index(["codec", "metric"])["bd_rate"]
    assert got[("x265_444_10bit", "psnr_rgb")] == pytest.approx(10.0, abs=0.1)
    assert got[("jpeg", "psnr_rgb")] == pytest.approx(80.0, abs=0.2)
    assert got[("jpeg", "ms_ssim_rgb_db")] == pytest.approx(80.0, abs=0.2)


def test_only_images_complete_for_both_codecs_are_used():
    df = rows({"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.10}, n_images=5)
    bad = (df["codec"] == "x265_444_10bit") & (df["image"] == "img03") & (df["point"] == 32)
    df.loc[bad, "status"] = "failed"
    _, (res,) = B.bd_matrix(df, None, ["psnr_rgb"], n_boot=50)
    assert res.n_images == 4 and "img03" not in res.per_image
    assert any("img03" in w for w in res.warnings)


def test_default_anchor_prefers_vvc():
    assert B.default_anchor(["jpeg", "x265_444_10bit", "vvenc_420_10bit"]) == "vvenc_420_10bit"
    assert B.default_anchor(["vvenc_420_10bit", "vtm_420_10bit", "jpeg"]) == "vtm_420_10bit"
    assert B.default_anchor(["jpeg", "x265_420_10bit"]) == "x265_420_10bit"
    assert B.default_anchor(["webp", "jpeg"]) == "jpeg"


def test_cli_prints_matrix_points_and_writes_csv(tmp_path, capsys):
    sweep = write_sweep(tmp_path / "s", rows(n_images=3))
    assert bd_main([str(sweep), "--boot", "50", "--csv", str(tmp_path / "bd.csv")]) == 0
    out = capsys.readouterr().out
    assert "against vvenc_420_10bit" in out and "RD points" in out and "psnr_rgb" in out and "ms_ssim_rgb_db" in out
    t = pd.read_csv(tmp_path / "bd.csv")
    assert {"codec", "metric", "bd_rate", "bd_rate_ci_low", "bd_rate_ci_high", "per_image_median"} <= set(t.columns)
    assert bd_main([str(sweep), "--anchor", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
