"""JPEG AI's objective metrics (FSIM, GMSD, VIF, VIFp, IW-SSIM, NLPD, PSNR-HVS(-M), MS-SSIM-Y, VSI):
calibration against the official values of the IQA-PyTorch pairs, the luma plane they read, the
declared direction against the measured one, the hand-written wavelet VIF, offline use, and their way
into the BD matrix and the perception-distortion analysis."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bench import metrics
from tests.conftest import SHARED, natural_crop
from tests.helpers import ROOT

CALIB = SHARED / "reference" / "iqa-calibration"
PAIRS = ["I03", "I04", "I06", "I08", "I19"]
NEW = ["ms_ssim_y", "fsim", "gmsd", "vif", "vifp", "iw_ssim", "nlpd", "psnr_hvs", "vsi"]
# The official values were computed by the metrics' MATLAB code on rgb2gray of the 8-bit pictures:
# BT.601 weights, rounded to 8 bits.  The same code path reaches them with this luma.
GREY8 = dict(matrix="bt601", bits=8)


@pytest.fixture(scope="module")
def calibration():
    if not (CALIB / "results_official.csv").is_file():
        pytest.skip(f"IQA calibration pairs not found at {CALIB} (../shared/reference/iqa-calibration beside the "
                    "project, or LIC_BENCH_SHARED)")
    from PIL import Image

    ref = np.stack([np.asarray(Image.open(CALIB / "ref" / f"{n}.bmp").convert("RGB")) for n in PAIRS])
    dist = np.stack([np.asarray(Image.open(CALIB / "dist" / f"{n}.bmp").convert("RGB")) for n in PAIRS])
    with open(CALIB / "results_official.csv") as f:
        official = {row["Method"]: np.array([float(row[f"{n}.bmp"]) for n in PAIRS]) for row in csv.DictReader(f)}
    return ref, dist, official


def _measure(calibration, name, col, **kw):
    ref, dist, _ = calibration
    return metrics.compute_batch(ref, dist, names=[name], device="cpu", **kw)[col]


# ------------------------------------------------------------------------------------ calibration


def test_fsim_equals_official_values_within_1e4(calibration):
    np.testing.assert_allclose(_measure(calibration, "fsim", "fsim"), calibration[2]["fsim"], atol=1e-4, rtol=0)


def test_gmsd_equals_official_values_within_1e5_on_the_official_grey_picture(calibration):
    ours = _measure(calibration, "gmsd", "gmsd", **GREY8)
    np.testing.assert_allclose(ours, calibration[2]["gmsd"], atol=1e-5, rtol=0)
    # the rounding is what makes it: piq's own unrounded luma halves the near-identical pair's value
    import piq
    import torch

    ref, dist, official = calibration
    t = lambda a: torch.from_numpy(a.astype(np.float32) / 255).permute(0, 3, 1, 2)  # noqa: E731
    unrounded = piq.gmsd(t(dist), t(ref), data_range=1.0, reduction="none").numpy()
    assert abs(unrounded[1] - official["gmsd"][1]) > 1e-4


def test_wavelet_vif_equals_official_values_within_1e4(calibration):
    np.testing.assert_allclose(_measure(calibration, "vif", "vif", **GREY8), calibration[2]["vif"], atol=1e-4, rtol=0)


def test_vifp_is_the_pixel_domain_index_not_the_official_wavelet_vif(calibration):
    ours = _measure(calibration, "vifp", "vifp", **GREY8)
    assert np.max(np.abs(ours - calibration[2]["vif"])) > 0.04  # a different index: the two must not be mixed up
    assert np.all(np.argsort(ours) == np.argsort(calibration[2]["vif"]))


def test_nlpd_is_jpeg_ais_implementation_within_its_measured_gap(calibration):
    official = calibration[2]["nlpd"]
    ours = _measure(calibration, "nlpd", "nlpd", **GREY8)
    # IQA_pytorch 0.1 (what JPEG AI's framework runs) is 1..7 % above NLP_dist.m: measured max 0.0275
    np.testing.assert_allclose(ours, official, atol=0.03, rtol=0)
    assert np.all(ours / official - 1 < 0.075) and np.all(ours / official - 1 > 0)
    assert np.all(np.argsort(ours) == np.argsort(official))


def test_ms_ssim_y_matches_the_official_ms_ssim_row_within_5e3(calibration):
    official = calibration[2]["ms_ssim"]
    ours = _measure(calibration, "ms_ssim_y", "ms_ssim_y", **GREY8)
    np.testing.assert_allclose(ours, official, atol=5e-3, rtol=0)
    mild = [1, 2, 3]  # I04, I06, I08: the gap sits on the two heavily distorted pairs only
    np.testing.assert_allclose(ours[mild], official[mild], atol=5e-4, rtol=0)
    # the RGB MS-SSIM is another number (the official row is on grey)
    rgb = _measure(calibration, "ms_ssim", "ms_ssim_rgb")
    assert np.max(np.abs(rgb - official)) > 0.03


def test_vsi_is_within_its_measured_gap_to_the_reimplementation_row(calibration):
    np.testing.assert_allclose(_measure(calibration, "vsi", "vsi"), calibration[2]["vsi"], atol=1.3e-2, rtol=0)


# ------------------------------------------------------------------------------------ the luma plane


def test_luma_is_the_declared_matrix_full_range_rounded_half_up():
    from bench.metrics.luma import describe, luma

    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]]], dtype=np.uint8)
    y = luma(rgb, "bt709", 10)[0, 0]
    np.testing.assert_allclose(y * 1023, np.floor(np.array([0.2126, 0.7152, 0.0722, 128 / 255]) * 1023 + 0.5))
    assert luma(rgb, "bt601", 8)[0, 0, 0] * 255 == 76  # 0.299 * 255 = 76.245: MATLAB rgb2gray gives 76 too
    assert luma(np.full((1, 2, 2, 3), 255, np.uint8))[0].max() == 1.0  # full range: white is the top code
    assert describe("bt709", 10) == "Y' BT.709 full range, rounded to 10 bits"
    with pytest.raises(ValueError, match="unknown colour matrix"):
        luma(rgb, "rgb")


def test_ms_ssim_y_is_jpeg_ais_pytorch_msssim_call_on_10_bit_bt709_codes():
    import torch
    from pytorch_msssim import ms_ssim

    ref = natural_crop(200, 240)
    dec = _noisy(ref, 10)
    ours = metrics.compute(ref, dec, names=["ms_ssim_y"])

    def codes(a):  # JPEG AI: Y' = BT.709 of RGB in [0, 1], full range, rounded to 10 bits, times 1023
        y = np.floor((a.astype(np.float64) @ [0.2126, 0.7152, 0.0722]) / 255 * 1023 + 0.5)
        return torch.from_numpy(y.astype(np.float32))[None, None]

    expected = ms_ssim(codes(ref), codes(dec), data_range=1023, size_average=False).item()
    assert ours["ms_ssim_y"] == pytest.approx(expected, abs=1e-6)
    assert ours["ms_ssim_y_db"] == pytest.approx(-10 * np.log10(1 - expected), abs=1e-4)
    assert "window 11" in ours["ms_ssim_y_impl"] and "BT.709" in ours["ms_ssim_y_impl"]


def test_vifp_equals_iqa_pytorchs_vifs_the_vif_of_jpeg_ais_framework():
    import torch
    from IQA_pytorch import VIFs

    ref = natural_crop(128, 160)
    dec = _noisy(ref, 12)
    ours = metrics.compute(ref, dec, names=["vifp"])["vifp"]
    from bench.metrics.luma import luma_tensor

    with torch.no_grad():
        theirs = VIFs(channels=1)(luma_tensor(dec, "bt709", 10, "cpu"), luma_tensor(ref, "bt709", 10, "cpu"), as_loss=False)
    assert ours == pytest.approx(theirs.item(), abs=1e-4)  # 3.2e-5 here: near-zero variances are treated apart


# ------------------------------------------------------------------------------------ every new metric


def _noisy(rgb, amp, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(rgb.astype(int) + rng.integers(-amp, amp + 1, rgb.shape), 0, 255).astype(np.uint8)


IDEAL = {"ms_ssim_y": 1.0, "fsim": 1.0, "gmsd": 0.0, "vif": 1.0, "vifp": 1.0, "iw_ssim": 1.0, "nlpd": 0.0,
         "psnr_hvs": np.inf, "psnr_hvsm": np.inf, "vsi": 1.0}


@pytest.mark.parametrize("name", NEW)
def test_identical_pictures_score_ideal_and_noise_moves_the_declared_way(name):
    ref = natural_crop(176, 200, "coffee")
    spec = metrics.spec(name)
    same = metrics.compute(ref, ref, names=[name])
    mild = metrics.compute(ref, _noisy(ref, 4), names=[name])
    strong = metrics.compute(ref, _noisy(ref, 30), names=[name])
    for col, info in spec.columns.items():
        if col in IDEAL:
            assert same[col] == pytest.approx(IDEAL[col], abs=1e-6), col
        better = mild[col] > strong[col] if info["higher_is_better"] else mild[col] < strong[col]
        assert better, (col, mild[col], strong[col])
        lo, hi = info["range"]
        for v in (mild[col], strong[col]):
            assert (lo is None or v >= lo) and (hi is None or v <= hi), (col, v, info["range"])
        if info.get("db"):
            assert mild[info["db"]] == pytest.approx(-10 * np.log10(1 - mild[col]), rel=1e-9)
    assert str(mild[f"{next(iter(spec.columns))}_impl"])  # provenance recorded


def test_batch_equals_one_picture_at_a_time():
    refs = np.stack([natural_crop(168, 176, n) for n in ("astronaut", "coffee")])
    decs = np.stack([_noisy(r, 6 + 10 * i, i) for i, r in enumerate(refs)])
    batch = metrics.compute_batch(refs, decs, names=NEW)
    for i in range(2):
        one = metrics.compute(refs[i], decs[i], names=NEW)
        for col in metrics.columns(NEW):
            assert batch[col][i] == pytest.approx(one[col], rel=1e-5, abs=1e-7), col


def test_declarations_directions_and_db_forms():
    M = metrics.METRICS
    for col in ("gmsd", "nlpd"):
        assert M[col]["higher_is_better"] is False
    for col in ("fsim", "vif", "vifp", "iw_ssim", "psnr_hvs", "psnr_hvsm", "vsi", "ms_ssim_y"):
        assert M[col]["higher_is_better"] is True
    assert {metrics.bd_column(c) for c in ("fsim", "iw_ssim", "vsi", "ms_ssim_y")} == {"fsim_db", "iw_ssim_db", "vsi_db",
                                                                                      "ms_ssim_y_db"}
    assert metrics.bd_column("vif") == "vif"  # VIF can exceed 1: no dB form
    for col in ("ms_ssim_y", "gmsd", "vif", "vifp", "iw_ssim", "nlpd", "psnr_hvs"):
        assert M[col]["colour_space"] == "Y' of metric_matrix" and "10-bit" in M[col]["input_range"], col
    compared = metrics.compared_columns()
    for col in ("ms_ssim_y_db", "fsim_db", "gmsd", "vif", "vifp", "iw_ssim_db", "nlpd", "psnr_hvs", "psnr_hvsm", "vsi_db"):
        assert col in compared, col


def test_too_small_pictures_give_nan_with_the_reason():
    tiny = natural_crop(60, 80)
    out = metrics.compute(tiny, _noisy(tiny, 8), names=["vif", "iw_ssim", "nlpd"])
    for col in ("vif", "iw_ssim", "nlpd"):
        assert np.isnan(out[col]) and "not measured" in out[f"{col}_impl"]


def test_vif_min_side_is_where_the_pyramid_stops_fitting():
    import pyrtools

    from bench.metrics import vif

    pyrtools.pyramids.SteerablePyramidSpace(np.zeros((vif.MIN_SIDE, 100)), height=vif.LEVELS, order=vif.ORDER)
    with pytest.raises(ValueError):
        pyrtools.pyramids.SteerablePyramidSpace(np.zeros((vif.MIN_SIDE - 1, 100)), height=vif.LEVELS, order=vif.ORDER)


def test_wavelet_vif_properties_from_the_paper():
    from bench.metrics.vif import vif

    y = natural_crop(96, 128).astype(np.float64) @ [0.299, 0.587, 0.114]
    assert vif(y, y) == pytest.approx(1.0, abs=1e-12)
    assert vif(y, np.full_like(y, y.mean())) == pytest.approx(0.0, abs=1e-9)  # nothing of the picture left
    stretched = (y - y.mean()) * 1.2 + y.mean()  # unclipped: every band-pass coefficient gains 1.2
    assert vif(y, stretched) > 1.0  # contrast enhancement adds "information", as Sheikh & Bovik note
    assert 0 < vif(y, y + np.random.default_rng(0).normal(0, 8, y.shape)) < 1


def test_psnr_hvs_pads_to_whole_blocks_as_jpeg_ais_framework():
    from bench.metrics.luma import luma
    from bench.metrics.psnr_hvs import _backend, pad8

    ref = natural_crop(61, 75)
    dec = _noisy(ref, 10)
    out = metrics.compute(ref, dec, names=["psnr_hvs"])
    a, b = luma(ref), luma(dec)
    padded = lambda p: np.pad(p, ((0, 3), (0, 5)), mode="edge")  # noqa: E731
    mse_hvs, mse_hvsm = _backend()(padded(a[0]), padded(b[0]))
    assert out["psnr_hvs"] == pytest.approx(10 * np.log10(1 / mse_hvs), abs=1e-9)
    assert out["psnr_hvsm"] == pytest.approx(10 * np.log10(1 / mse_hvsm), abs=1e-9)
    assert out["psnr_hvsm"] > out["psnr_hvs"]  # masking only removes error
    assert "edge-padded 75x61 -> 80x64" in out["psnr_hvs_impl"]
    assert pad8(a).shape == (1, 64, 80)


# ------------------------------------------------------------------------------------ offline, lazily


def test_no_network_and_no_downloaded_weights_are_needed(tmp_path, monkeypatch):
    import socket

    def no_network(*a, **k):
        raise OSError("network used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for var in ("TORCH_HOME", "XDG_CACHE_HOME", "HF_HOME"):  # no cache to fall back on either
        monkeypatch.setenv(var, str(tmp_path / var))
    a = natural_crop(176, 200)
    out = metrics.compute(a, _noisy(a, 9), names=NEW, device="cpu")
    assert all(np.isfinite(out[c]) for c in metrics.columns(NEW))
    assert not any(tmp_path.rglob("*"))  # nothing fetched into a cache


def test_their_libraries_load_only_when_chosen():
    code = ("import sys, numpy as np; from bench import metrics; a = np.zeros((32, 32, 3), np.uint8); "
            "metrics.compute(a, a + 1, names=['psnr']); "
            "print(sorted(m for m in ('piq', 'pyrtools', 'IQA_pytorch', 'psnr_hvsm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------------------ into the analyses


def _rows_with_new_metrics() -> pd.DataFrame:
    """Two codecs on three images; B is better than A at equal rate under PSNR, and worse under every
    new metric (so each must show a flip, in its own direction)."""
    rows = []
    for k, img in enumerate(("i1", "i2", "i3")):
        for codec, shift in (("A", -0.3), ("B", 0.3)):
            for p, bpp in enumerate((0.2, 0.4, 0.8, 1.6)):
                t = np.log2(bpp / 0.2) + 0.1 * k
                worse = shift  # B worse on the new metrics
                rows.append({"key": f"{img}{codec}{p}", "status": "ok", "dataset": "syn", "image": img, "codec": codec,
                             "point": p, "bpp": bpp, "bytes": int(bpp * 1000), "psnr_rgb": 28 + 3 * t + shift,
                             "fsim": 1 - 0.05 * 0.6 ** t * (1 + 0.2 * worse), "gmsd": 0.1 * 0.6 ** t * (1 + 0.2 * worse),
                             "nlpd": 0.3 * 0.7 ** t * (1 + 0.2 * worse), "vif": 0.3 + 0.1 * t - 0.03 * worse,
                             "psnr_hvsm": 30 + 3 * t - worse})
                rows[-1]["fsim_db"] = -10 * np.log10(1 - rows[-1]["fsim"])
    return pd.DataFrame(rows)


def test_new_metrics_enter_the_bd_matrix_and_the_perception_analysis():
    from bench.analysis import perception
    from bench.analysis.bd import available_metrics, bd_matrix

    df = _rows_with_new_metrics()
    got = available_metrics(df)
    assert {"fsim_db", "gmsd", "nlpd", "vif", "psnr_hvsm"} <= set(got) and "fsim" not in got
    table, _ = bd_matrix(df, "A", n_boot=0)
    rates = table.set_index("metric")["bd_rate"]
    assert not any("overlap" in str(w) for w in table["warnings"])
    assert rates["psnr_rgb"] < 0  # B needs fewer bits under PSNR
    for m in ("fsim_db", "gmsd", "nlpd", "vif", "psnr_hvsm"):
        assert rates[m] > 0, m  # and more under each new metric, whichever its direction
    compared = perception.available(df)
    assert {"fsim_db", "gmsd", "nlpd", "vif", "psnr_hvsm"} <= set(compared) and "fsim" not in compared
    flips = perception.rank_flips(perception.pairwise(perception.prepare(df, ["psnr_rgb", *compared]), compared))
    assert {"fsim_db", "gmsd", "nlpd", "vif", "psnr_hvsm"} <= set(flips["metric"])


def test_a_sweep_writes_the_new_columns_and_their_records(tmp_path):
    from bench.cli.sweep import run
    from tests.helpers import compose, write_photos

    photos = write_photos(tmp_path / "img")  # 64x96 and 65x97: under VIF's, NLPD's and IW-SSIM's minimum
    names = ["psnr", "fsim", "gmsd", "nlpd", "psnr_hvs"]
    res = run(compose(["dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", "codec=jpeg", "codec.points=[30,80]",
                       f"results_root={tmp_path / 'results'}", "sweep=t", "workers=1", "plot=false",
                       f"metrics=[{','.join(names)}]"]))
    assert res["rows"] == 4 and res["failed"] == 0
    rows = [json.loads(p.read_text()) for p in (tmp_path / "results/t/rows").glob("*.json")]
    for r in rows:
        assert 0 < r["fsim"] <= 1 and r["gmsd"] >= 0 and np.isfinite(r["psnr_hvsm"]) and r["metric_names"] == ",".join(names)
        assert "BT.709 full range, rounded to 10 bits" in r["gmsd_impl"]
        if r["image"] == "p0":  # 64x96: whole 8x8 blocks, and under NLPD's 65 px
            assert r["nlpd"] == "nan" and "not measured" in r["nlpd_impl"] and "padded" not in r["psnr_hvs_impl"]
        else:  # 65x97
            assert 0 < r["nlpd"] < 1 and "edge-padded 97x65 -> 104x72" in r["psnr_hvs_impl"]
