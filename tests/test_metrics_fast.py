"""The hand-written PSNR family and MS-SSIM against the libraries they replace: scikit-image's PSNR on
explicitly converted planes, pytorch-msssim itself (bundled photos always, every Kodak picture when
present).  Speed and memory are measured by `bench perf metrics` / `bench perf memory`, not here."""

from __future__ import annotations

import importlib
import io

import numpy as np
import pytest
from PIL import Image

from bench.core.colour import rgb_to_ycbcr_float
from tests.conftest import natural_crop

psnr_mod = importlib.import_module("bench.metrics.psnr")
msssim = importlib.import_module("bench.metrics.ms_ssim")


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


@pytest.mark.parametrize("matrix", ["bt709", "bt601", "bt2020"])
def test_psnr_family_equals_scikit_image_on_converted_planes(matrix):
    from skimage.metrics import peak_signal_noise_ratio as sk_psnr

    ref = natural_crop(301, 257, "coffee")
    dec = jpeg(ref, 20)
    out = psnr_mod.compute_batch(ref, dec, matrix=matrix)
    assert out["psnr_rgb"][0] == pytest.approx(sk_psnr(ref, dec, data_range=255), abs=1e-9)
    r, d = rgb_to_ycbcr_float(ref, matrix), rgb_to_ycbcr_float(dec, matrix)
    for i, col in enumerate(("psnr_y", "psnr_u", "psnr_v")):
        assert out[col][0] == pytest.approx(sk_psnr(r[..., i], d[..., i], data_range=255), abs=1e-9), col
    y, u, v = (out[c][0] for c in ("psnr_y", "psnr_u", "psnr_v"))
    assert out["psnr_yuv"][0] == pytest.approx((6 * y + u + v) / 8, abs=1e-12)


def test_psnr_rgb_is_bit_identical_to_the_float_mean():
    ref = natural_crop(200, 330, "astronaut")
    dec = jpeg(ref, 10)
    d = ref.astype(np.float64) - dec.astype(np.float64)
    assert psnr_mod.psnr(ref, dec) == psnr_mod.psnr_from_mse(float(np.mean(d * d)))  # the former code, bit for bit


def test_error_moments_are_exact_also_for_rows_wider_than_a_chunk():
    rng = np.random.default_rng(3)
    for shape in [(37, 53, 3), (2, 40000, 3)]:  # the second takes the int64 row path
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        b = rng.integers(0, 256, shape, dtype=np.uint8)
        e = (a.astype(np.int64) - b).reshape(-1, 3)
        moments, n = psnr_mod.error_moments(a, b)
        assert n == shape[0] * shape[1] and np.array_equal(moments, e.T @ e)


def test_a_grey_error_has_no_chroma_error():
    ref = natural_crop(64, 64, "chelsea")
    dec = np.clip(ref.astype(int) + 3, 0, 255).astype(np.uint8)
    dec[ref > 250] = ref[ref > 250]  # keep it grey where +3 would clip unevenly
    grey = (dec.astype(int) - ref).std(axis=2).max() == 0
    assert grey
    out = psnr_mod.psnr_ycbcr(ref, dec)
    assert out["psnr_u"] == float("inf") and out["psnr_v"] == float("inf") and np.isfinite(out["psnr_y"])
    same = psnr_mod.compute_batch(ref, ref)
    assert all(same[c][0] == float("inf") for c in ("psnr_rgb", "psnr_y", "psnr_u", "psnr_v", "psnr_yuv"))


@pytest.mark.parametrize("shape,name,quality", [((512, 768), "astronaut", 10), ((257, 383), "coffee", 40),
                                                ((170, 301), "chelsea", 75), ((150, 300), "rocket", 25),
                                                ((100, 120), "astronaut", 5)])
def test_ms_ssim_equals_pytorch_msssim_on_bundled_photos(shape, name, quality):
    """Sizes cover odd sides (zero-padded pooling), the smaller windows (150 px: 9, 100 px: 7) and a
    Kodak-size picture."""
    ref = natural_crop(*shape, name) if shape[0] <= 512 else np.asarray(
        Image.fromarray(natural_crop(512, 512, name)).resize((shape[1], shape[0])))
    dec = jpeg(ref, quality)
    win = msssim.ms_ssim_win(*shape)
    lib = msssim.reference_ms_ssim(ref[None], dec[None], win)[0]
    ours = msssim.compute_batch(ref, dec, device="cpu")
    assert ours["ms_ssim_win"][0] == win
    assert abs(ours["ms_ssim_rgb"][0] - lib) <= 1e-6
    assert abs(msssim.compute_batch(ref, ref, device="cpu")["ms_ssim_rgb"][0] - 1.0) <= 1e-6


def test_ms_ssim_strips_and_the_reference_cache_change_nothing(monkeypatch):
    ref = natural_crop(300, 420, "coffee")
    decs = [jpeg(ref, q) for q in (10, 60)]
    cold = [msssim._ms_ssim_cpu(ref, d, 11, reuse_ref=False) for d in decs]
    warm = [msssim._ms_ssim_cpu(ref, d, 11, reuse_ref=True) for d in decs]  # the second reuses the first's maps
    assert cold == warm
    monkeypatch.setattr(msssim, "STRIP_SAMPLES", 1 << 14)  # many small strips: 13 rows each at level 0
    assert [msssim._ms_ssim_cpu(ref, d, 11, reuse_ref=False) for d in decs] == cold
    other = natural_crop(300, 420, "astronaut")  # another reference under the same shape is not confused
    assert abs(msssim._ms_ssim_cpu(other, jpeg(other, 10), 11) - msssim.reference_ms_ssim(
        other[None], jpeg(other, 10)[None], 11)[0]) <= 1e-6


def test_ms_ssim_equals_pytorch_msssim_on_every_kodak_picture(kodak_dir):
    worst = 0.0
    for i, path in enumerate(sorted(kodak_dir.glob("kodim*.png"))):
        ref = np.asarray(Image.open(path).convert("RGB"))
        dec = jpeg(ref, (5, 30, 75, 95)[i % 4])
        lib = msssim.reference_ms_ssim(ref[None], dec[None], 11)[0]
        worst = max(worst, abs(msssim.compute_batch(ref, dec, device="cpu")["ms_ssim_rgb"][0] - lib))
    assert i == 23 and worst <= 1e-6
