"""BD statistics a paper can cite: both aggregations, sensitivity to the method and the rate points, the
paired bootstrap probability, and the matched-rate fallback.  Each is checked against an independent
computation: the `bjontegaard` package called directly, or hand-built curves with a closed-form answer."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bench.analysis import bd as B
from tests.rd_synth import rows

QUALITY = np.array([30.0, 32.5, 35.0, 37.5])  # per point; the same for every image and codec below
BASE_BPP = np.array([0.1, 0.2, 0.4, 0.8])


def frame(curves: dict[str, list[tuple[np.ndarray, np.ndarray]]], metric: str = "psnr_rgb") -> pd.DataFrame:
    """Rows from explicit curves: {codec: [(bpp, metric) per image]}."""
    out = []
    for codec, per_image in curves.items():
        for i, (bpp, val) in enumerate(per_image):
            for p, (b, v) in enumerate(zip(bpp, val)):
                out.append({"codec": codec, "status": "ok", "dataset": "synth", "image": f"img{i:02d}", "point": p,
                            "bpp": float(b), metric: float(v)})
    return pd.DataFrame(out)


def package_bd_rate(ra, qa, rt, qt, method="pchip"):
    import bjontegaard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(bjontegaard.bd_rate(np.asarray(ra), np.asarray(qa), np.asarray(rt), np.asarray(qt), method=method,
                                         require_matching_points=False))


# ------------------------------------------------------------------------------- aggregations


def test_both_aggregations_have_their_closed_form_values():
    # image i: the anchor needs s_i x base bits, the test f_i times that, at the same quality per point.
    # Per image the test curve is the anchor's shifted by log10(f_i): per-image BD-rate = (f_i - 1) x 100 exactly.
    # The mean curves: anchor b x mean(s), test b x mean(f s), same quality: BD = (mean(f s) / mean(s) - 1) x 100.
    f, s = np.array([1.0, 1.2, 1.5, 2.0]), np.array([0.5, 1.0, 2.0, 4.0])
    df = frame({"anchor": [(si * BASE_BPP, QUALITY) for si in s], "test": [(fi * si * BASE_BPP, QUALITY) for fi, si in zip(f, s)]})
    _, (r,) = B.bd_matrix(df, "anchor", ["psnr_rgb"], n_boot=200)
    assert r.bd_rate == pytest.approx((np.mean(f * s) / np.mean(s) - 1) * 100, abs=1e-9)  # 69.33 %
    assert r.per_image_mean == pytest.approx((f.mean() - 1) * 100, abs=1e-9)  # 42.5 %
    assert r.per_image_median == pytest.approx((np.median(f) - 1) * 100, abs=1e-9)  # 35 %
    assert sorted(r.per_image.values()) == pytest.approx(sorted((f - 1) * 100), abs=1e-9)
    row = r.row()
    assert row["per_image_mean"] == pytest.approx(42.5) and row["per_image_median"] == pytest.approx(35.0)
    assert row["per_image_mean_ci_low"] <= 42.5 <= row["per_image_mean_ci_high"]


def test_aggregations_and_their_cis_against_the_package_and_the_resamples():
    df = rows({"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.12}, n_images=9, noise=0.5, seed=4)
    n_boot, seed = 300, 11
    _, (r,) = B.bd_matrix(df, None, ["psnr_rgb"], n_boot=n_boot, seed=seed)
    a = B.curves_from_rows(df, "vvenc_420_10bit", "psnr_rgb")
    t = B.curves_from_rows(df, "x265_444_10bit", "psnr_rgb")
    # BD of the mean curves and every per-image BD: the package, called directly
    assert r.bd_rate == pytest.approx(package_bd_rate(a.bpp.mean(0), a.value.mean(0), t.bpp.mean(0), t.value.mean(0)), abs=1e-9)
    per = np.array([package_bd_rate(a.bpp[i], a.value[i], t.bpp[i], t.value[i]) for i in range(len(a.images))])
    assert r.per_image_mean == pytest.approx(per.mean(), abs=1e-9)
    assert r.per_image_median == pytest.approx(np.median(per), abs=1e-9)
    assert abs(r.per_image_mean - r.bd_rate) > 0.01  # the two aggregations differ here
    # CIs of the per-image mean / median: percentiles over the same resamples of images
    idx = np.random.default_rng(seed).integers(0, len(per), size=(n_boot, len(per)))
    assert r.per_image_mean_ci == pytest.approx(tuple(np.percentile(per[idx].mean(1), [2.5, 97.5])), abs=1e-9)
    assert r.per_image_median_ci == pytest.approx(tuple(np.percentile(np.median(per[idx], 1), [2.5, 97.5])), abs=1e-9)


# -------------------------------------------------------------------------------- paired test


def test_paired_probability_equals_a_hand_loop_over_the_resamples():
    df = rows({"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.02}, n_images=8, noise=0.6, seed=2)
    n_boot, seed = 150, 5
    _, (r,) = B.bd_matrix(df, None, ["psnr_rgb"], n_boot=n_boot, seed=seed, method="akima")  # the package path
    a = B.curves_from_rows(df, "vvenc_420_10bit", "psnr_rgb")
    t = B.curves_from_rows(df, "x265_444_10bit", "psnr_rgb")
    idx = np.random.default_rng(seed).integers(0, a.bpp.shape[0], size=(n_boot, a.bpp.shape[0]))
    got = np.array([package_bd_rate(a.bpp[k].mean(0), a.value[k].mean(0), t.bpp[k].mean(0), t.value[k].mean(0), "akima")
                    for k in idx])
    assert 0 < r.p_fewer_bits < 1  # a close pair: the sign is not settled by these images
    assert r.p_fewer_bits == pytest.approx(np.mean(got < 0), abs=1e-12)
    assert r.n_boot_valid == n_boot
    assert r.bd_rate_ci == pytest.approx(tuple(np.percentile(got, [2.5, 97.5])), abs=1e-9)


def test_paired_probability_matrix_is_consistent_both_ways():
    df = rows({"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.03, "jpeg": 1.8}, n_images=7, noise=0.6, seed=3)
    P = B.paired_probabilities(df, "psnr_rgb", n_boot=200, seed=1)
    assert list(P.index) == sorted(["vvenc_420_10bit", "x265_444_10bit", "jpeg"])
    assert P.loc["vvenc_420_10bit", "jpeg"] == 1.0 and P.loc["jpeg", "vvenc_420_10bit"] == 0.0  # 80 % apart
    p = P.loc["vvenc_420_10bit", "x265_444_10bit"]
    assert 0 < p < 1 and P.loc["x265_444_10bit", "vvenc_420_10bit"] == pytest.approx(1 - p)
    # the matrix entry is the comparison run the other way round
    a, t = (B.curves_from_rows(df, c, "psnr_rgb") for c in ("x265_444_10bit", "vvenc_420_10bit"))
    direct = B.compare(a, t, n_boot=200, seed=1, per_image=False, sensitivity=False)
    assert direct.p_fewer_bits == pytest.approx(p)
    assert np.isnan(P.loc["jpeg", "jpeg"])


# -------------------------------------------------------------------------------- sensitivity


@pytest.mark.parametrize("method, expected", [("cubic", -4.4205), ("pchip", -4.4175), ("akima", -4.4252)])
def test_sensitivity_methods_reproduce_the_package_readme(method, expected):
    from tests.test_bd import PA, PT, RA, RT

    s = B.bd_sensitivity(range(4), RA, PA, range(4), RT, PT)
    assert s.methods[method][0] == pytest.approx(expected, abs=1e-4)
    assert s.range("methods") == pytest.approx((-4.4252, -4.4175), abs=1e-4)


def test_leave_one_point_out_against_the_package():
    from tests.test_bd import PA, PT, RA, RT

    s = B.bd_sensitivity(["a0", "a1", "a2", "a3"], RA, PA, ["t0", "t1", "t2", "t3"], RT, PT)
    assert len(s.leave_one_out) == 8
    for side, point, rate, _ in s.leave_one_out:
        j = int(point[1])
        keep = [k for k in range(4) if k != j]
        if side == "anchor":
            want = package_bd_rate(np.take(RA, keep), np.take(PA, keep), RT, PT)
        else:
            want = package_bd_rate(RA, PA, np.take(RT, keep), np.take(PT, keep))
        assert rate == pytest.approx(want, abs=1e-9), (side, point)


def test_straight_curves_are_insensitive_and_an_outlier_point_is_flagged():
    # straight lines in (log rate, quality): every method and every subset gives exactly -10 %
    clean = frame({"anchor": [(BASE_BPP, QUALITY)] * 4, "test": [(0.9 * BASE_BPP, QUALITY)] * 4})
    _, (r,) = B.bd_matrix(clean, "anchor", ["psnr_rgb"], n_boot=100)
    s = r.sensitivity
    assert r.bd_rate == pytest.approx(-10.0, abs=1e-9)
    for which in ("methods", "loo"):
        assert s.range(which) == pytest.approx((-10.0, -10.0), abs=1e-6)
    assert r.bd_rate_ci == pytest.approx((-10.0, -10.0), abs=1e-9)  # identical images: a CI of width 0
    # one test point 30 % too expensive on every image: the subset without it gives -10 % again, the range is wide
    # and wider than the (zero-width) bootstrap CI: flagged
    bad = 0.9 * BASE_BPP * np.array([1, 1, 1.3, 1])
    df = frame({"anchor": [(BASE_BPP, QUALITY)] * 4, "test": [(bad, QUALITY)] * 4})
    _, (r,) = B.bd_matrix(df, "anchor", ["psnr_rgb"], n_boot=100)
    s = r.sensitivity
    lo, hi = s.range("loo")
    assert lo < r.bd_rate < hi
    without = [v for side, p, v, _ in s.leave_one_out if side == "test" and p == 2]
    assert without == [pytest.approx(-10.0, abs=1e-9)]
    assert s.wider_than_ci("loo") and r.row()["loo_range_wider_than_ci"]


def test_two_point_curves_get_no_leave_one_out():
    s = B.bd_sensitivity([0, 1], [0.1, 0.4], [30, 35], [0, 1], [0.1, 0.4], [31, 36])
    assert s.leave_one_out == [] and np.isnan(s.range("loo")[0]) and not s.wider_than_ci("loo")


# ------------------------------------------------------------------------------ matched rate


def test_curves_without_a_common_quality_range_are_compared_at_matched_rate():
    # the same rates, quality 15 dB apart: no common quality range, BD-rate undefined; at equal rate the
    # test is exactly 15 dB better (straight lines: any interpolation is exact)
    rate = np.array([0.1, 0.2, 0.4, 0.8])
    lo_q = 30 + 8 * np.log10(rate)  # 22.0 .. 29.2
    df = frame({"anchor": [(rate, lo_q)] * 3, "test": [(rate, lo_q + 15)] * 3})
    _, (r,) = B.bd_matrix(df, "anchor", ["psnr_rgb"], n_boot=100)
    assert np.isnan(r.bd_rate) and r.basis == "matched rate"
    assert r.bd_metric == pytest.approx(15.0, abs=1e-9)
    assert r.bd_metric_ci == pytest.approx((15.0, 15.0), abs=1e-9)
    assert any("matched rate" in w for w in r.warnings)
    assert r.sensitivity.quantity == "bd_metric" and r.sensitivity.range("methods") == pytest.approx((15.0, 15.0), abs=1e-6)
    assert r.row()["basis"] == "matched rate"


def test_matched_rate_delta_equals_an_independent_integral():
    from scipy.interpolate import PchipInterpolator

    ra, rt = np.array([0.1, 0.2, 0.4, 0.8]), np.array([0.15, 0.3, 0.5, 1.2])
    qa = np.array([24.0, 26.5, 28.0, 29.0])  # curved, saturating
    qt = np.array([36.0, 38.0, 39.5, 40.2])  # above every anchor quality: no common quality range
    r = B.bd(ra, qa, rt, qt)
    assert np.isnan(r.bd_rate)
    lo, hi = np.log10(0.15), np.log10(0.8)
    x = np.linspace(lo, hi, 200001)
    diff = PchipInterpolator(np.log10(rt), qt)(x) - PchipInterpolator(np.log10(ra), qa)(x)
    assert r.bd_metric == pytest.approx(np.trapz(diff, x) / (hi - lo), abs=1e-6)


def test_no_common_rate_and_no_common_quality_is_no_comparison():
    df = frame({"anchor": [(np.array([0.1, 0.2, 0.3]), np.array([20.0, 21, 22]))] * 2,
                "test": [(np.array([1.0, 2.0, 3.0]), np.array([40.0, 41, 42]))] * 2})
    _, (r,) = B.bd_matrix(df, "anchor", ["psnr_rgb"], n_boot=50)
    assert r.basis == "none" and np.isnan(r.bd_rate) and np.isnan(r.bd_metric) and np.isnan(r.p_fewer_bits)


def test_format_matrix_prints_the_new_statistics():
    df = rows({"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.1}, n_images=4, noise=0.3)
    _, res = B.bd_matrix(df, None, ["psnr_rgb"], n_boot=50)
    text = B.format_matrix(res)
    assert "per-image mean" in text and "P(fewer bits)" in text and "leave-one-point-out" in text


def test_matched_rate_has_its_own_paired_test_and_no_bd_rate_statistics():
    # the test is 12 dB above the anchor at equal rate on four images and 8 dB on one: never a common quality range
    rate = np.array([0.1, 0.2, 0.4, 0.8])
    q = 30 + 8 * np.log10(rate)
    gaps = [12.0, 12.0, 12.0, 12.0, 8.0]
    df = frame({"anchor": [(rate, q)] * 5, "test": [(rate, q + g) for g in gaps]})
    _, (r,) = B.bd_matrix(df, "anchor", ["psnr_rgb"], n_boot=400, seed=2)
    assert r.basis == "matched rate" and r.bd_metric == pytest.approx(np.mean(gaps), abs=1e-9)
    assert np.isnan(r.p_fewer_bits) and np.isnan(r.bd_rate_ci[0])  # nothing about a BD-rate that does not exist
    assert r.p_better_equal_rate == 1.0
    # lower-is-better metric: a larger value at equal rate is worse
    df2 = frame({"anchor": [(rate, 0.5 - 0.1 * np.log2(rate / 0.1))] * 4, "test": [(rate, 0.9 - 0.1 * np.log2(rate / 0.1))] * 4},
                metric="lpips_alex")
    _, (r2,) = B.bd_matrix(df2, "anchor", ["lpips_alex"], n_boot=100)
    assert r2.basis == "matched rate" and r2.bd_metric == pytest.approx(0.4, abs=1e-9) and r2.p_better_equal_rate == 0.0
