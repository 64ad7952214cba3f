"""VMAF (ffmpeg libvmaf, default model) and FLIP (flip-evaluator): known fixed points, order with
distortion, and batches that equal one picture at a time (no motion leaking between pictures)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench import metrics
from tests.conftest import natural_crop


def jpeg(rgb, q):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=q)
    return np.asarray(Image.open(buf).convert("RGB"))


@pytest.fixture(scope="module")
def ladder():
    ref = natural_crop(192, 256)
    return ref, [jpeg(ref, q) for q in (5, 30, 90)]


def test_vmaf_identical_still_picture_is_the_model_ceiling(ladder):
    ref, _ = ladder
    out = metrics.compute(ref, ref, names=["vmaf"])
    # vmaf_v0.6.1 on one frame (motion 0): an identical pair scores 97.428, not 100
    assert out["vmaf"] == pytest.approx(97.4285, abs=2e-3)
    assert "vmaf_v0.6.1" in out["vmaf_impl"] and "libvmaf" in out["vmaf_impl"]


def test_vmaf_falls_with_stronger_compression_and_batches_independently(ladder):
    ref, decs = ladder
    singles = [metrics.compute(ref, d, names=["vmaf"])["vmaf"] for d in decs]
    assert singles[0] < singles[1] < singles[2] <= 100
    other = natural_crop(192, 256, "coffee")
    # a batch with an unrelated picture between: one stream would feed motion between them
    refs = np.stack([ref, other, ref, ref])
    decs4 = np.stack([decs[0], jpeg(other, 20), decs[1], decs[2]])
    batch = metrics.compute_batch(refs, decs4, names=["vmaf"])["vmaf"]
    np.testing.assert_allclose(batch[[0, 2, 3]], singles, atol=1e-6)


def test_vmaf_tiny_pictures_are_nan_not_a_crash():
    a = natural_crop(16, 64)
    out = metrics.compute(a, a[::-1].copy(), names=["vmaf"])
    assert np.isnan(out["vmaf"]) and "not measured" in out["vmaf_impl"]


def test_flip_is_zero_for_identical_and_grows_with_distortion(ladder):
    ref, decs = ladder
    assert metrics.compute(ref, ref, names=["flip"])["flip"] == 0.0
    values = [metrics.compute(ref, d, names=["flip"])["flip"] for d in decs]
    assert 0 < values[2] < values[1] < values[0] < 1
    out = metrics.compute(ref, decs[0], names=["flip"])
    assert "ppd=67.02" in out["flip_impl"] and "LDR" in out["flip_impl"]


def test_flip_sees_colour_that_luma_metrics_miss():
    ref = natural_crop(128, 128)
    # swap the chroma of the picture while keeping BT.709 luma (nearly) unchanged: R<->B shift
    from bench.core.colour import rgb_to_ycbcr_float

    ycc = rgb_to_ycbcr_float(ref)
    swapped = ycc.copy()
    swapped[..., 1], swapped[..., 2] = ycc[..., 2], ycc[..., 1]
    kr, kb = 0.2126, 0.0722
    y, cb, cr = swapped[..., 0] / 255, swapped[..., 1] / 255 - 0.5, swapped[..., 2] / 255 - 0.5
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    dec = np.clip(np.rint(np.stack([r, g, b], -1) * 255), 0, 255).astype(np.uint8)
    out = metrics.compute(ref, dec, names=["psnr", "flip", "vmaf"])
    assert out["psnr_y"] > 35  # luma nearly untouched
    assert out["vmaf"] > 85  # VMAF reads luma only
    assert out["flip"] > 0.1  # FLIP compares colour
