"""Class 1 of issue 9: pictures of other kinds.  The input policy (bench.data.images) either makes a
stated 8-bit RGB original, recorded in every row (`input_note`), or refuses the picture with its
reason; a metric that cannot measure a picture gives NaN and its reason while the unit keeps its other
metrics; an encoder's own complaint reaches the row."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image, ImageOps

from bench.cli.sweep import run
from bench.core.errors import BenchError
from bench.data import images
from bench.data.images import PictureRefused, load_original, policy_token
from tests.edge_cases import gif_two_frames, photo, png16, ramp16, scaled, with_exif_orientation
from tests.helpers import compose


def fresh(path) -> images.Original:
    images.load_original.cache_clear()
    images.policy_token.cache_clear()
    return load_original(str(path))


def sweep(tmp_path, folder, codec="jpeg", extra=()):
    run(compose(["dataset=folder", f"dataset.root={folder}", "dataset.glob=*", f"codec={codec}",
                 f"results_root={tmp_path / 'res'}", "sweep=t", "workers=1", "plot=false", *extra]))
    images.load_original.cache_clear()
    return pd.read_parquet(tmp_path / "res/t/results.parquet"), tmp_path / "res/t"


# ------------------------------------------------------------------------------ high bit depths


@pytest.mark.parametrize("channels", [1, 2, 3, 4], ids=["grey16", "grey_alpha16", "rgb16", "rgba16"])
def test_16_bit_png_is_scaled_with_rounding_not_clipped_or_truncated(tmp_path, channels):
    a = ramp16(channels=channels)
    o = fresh(png16(tmp_path / "p.png", a))
    colour = a[..., :3] if channels >= 3 else np.repeat((a if channels == 1 else a[..., :1]).reshape(a.shape[0], a.shape[1], 1), 3, 2)
    assert np.array_equal(o.rgb, scaled(colour))
    assert not np.array_equal(o.rgb, (colour >> 8).astype(np.uint8))  # Pillow's truncation would differ
    assert (o.rgb == 255).mean() < 0.05  # the old failure: 99.8 % of the pixels clipped to 255
    assert "16-bit samples (PNG) scaled to 8 bits" in o.note
    assert ("grey picture expanded to RGB" in o.note) == (channels <= 2)
    assert ("opaque alpha channel dropped" in o.note) == (channels in (2, 4))


@pytest.mark.parametrize("channels", [1, 3], ids=["grey16", "rgb16"])
def test_16_bit_tiff_is_scaled_with_rounding(tmp_path, channels):
    a = ramp16(channels=channels)
    path = tmp_path / "p.tif"
    tifffile.imwrite(path, a, photometric="minisblack" if channels == 1 else "rgb")
    o = fresh(path)
    want = scaled(a if channels == 3 else np.repeat(a[..., None], 3, 2))
    assert np.array_equal(o.rgb, want) and "16-bit samples (TIFF) scaled" in o.note


def test_planar_tiff_is_read_as_pixels_and_other_layouts_are_refused(tmp_path):
    a = ramp16(channels=3)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(a, -1, 0), photometric="rgb", planarconfig="separate")
    assert np.array_equal(fresh(tmp_path / "planar.tif").rgb, scaled(a))
    tifffile.imwrite(tmp_path / "five.tif", np.zeros((16, 16, 5), np.uint16), photometric="minisblack", planarconfig="contig")
    with pytest.raises(PictureRefused, match="5 samples per pixel|is not one picture"):
        fresh(tmp_path / "five.tif")


def test_the_integer_scaling_equals_the_exact_rounding_for_every_16_bit_value():
    v = np.arange(65536, dtype=np.uint16)
    assert np.array_equal(images._scale16(v), np.floor(v.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8))


@pytest.mark.parametrize("dtype,what", [(np.int32, "int32"), (np.uint32, "uint32"), (np.float32, "float32"),
                                        (np.float64, "float64")])
def test_32_bit_integer_and_float_samples_are_refused_with_the_reason(tmp_path, dtype, what):
    path = tmp_path / "p.tif"
    a = (photo(24, 32) / 255.0).astype(dtype) if np.issubdtype(dtype, np.floating) else photo(24, 32).astype(dtype) * 1000
    tifffile.imwrite(path, a, photometric="rgb")
    with pytest.raises(PictureRefused, match=f"samples are {what}: no defined white level"):
        fresh(path)


def test_float_and_32_bit_pillow_modes_are_refused(tmp_path):
    for mode, arr in (("F", np.full((16, 16), 0.5, np.float32)), ("I", np.full((16, 16), 70000, np.int32))):
        path = tmp_path / f"{mode}.tif"
        Image.fromarray(arr, mode).save(path)
        with pytest.raises(PictureRefused, match="no defined white level"):
            fresh(path)


def test_pnm_above_8_bits_is_refused(tmp_path):
    path = tmp_path / "p.ppm"
    path.write_bytes(b"P6\n4 4\n65535\n" + np.full((4, 4, 3), 40000, ">u2").tobytes())
    with pytest.raises(PictureRefused, match="PNM with maxval 65535"):
        fresh(path)


# ------------------------------------------------------------------------------ grey, palette, 1-bit


def test_grey_palette_and_1_bit_pictures_become_rgb_and_say_so(tmp_path):
    grey = photo()[..., 1]
    Image.fromarray(grey).save(tmp_path / "g.png")
    o = fresh(tmp_path / "g.png")
    assert np.array_equal(o.rgb, np.repeat(grey[..., None], 3, 2)) and o.note == "grey picture expanded to RGB (R = G = B)"
    Image.fromarray(photo()).convert("P").save(tmp_path / "p.png")
    o = fresh(tmp_path / "p.png")
    assert o.note == "palette picture converted to RGB (a table lookup)"
    assert np.array_equal(o.rgb, np.asarray(Image.open(tmp_path / "p.png").convert("RGB")))
    Image.fromarray(grey > 128).save(tmp_path / "b.png")
    o = fresh(tmp_path / "b.png")
    assert set(np.unique(o.rgb)) <= {0, 255} and o.note.startswith("1-bit picture read as grey 0/255")


def test_8_bit_rgb_is_used_as_stored_and_keeps_its_unit_key(tmp_path):
    Image.fromarray(photo()).save(tmp_path / "p.png")
    o = fresh(tmp_path / "p.png")
    assert o.note == "" and np.array_equal(o.rgb, photo()) and not o.rgb.flags.writeable
    assert policy_token(str(tmp_path / "p.png")) == ""  # plain pictures: keys (and resumed rows) unchanged


# ------------------------------------------------------------------------------ alpha


def test_opaque_alpha_is_dropped_and_any_transparency_is_refused(tmp_path):
    rgba = np.concatenate([photo(), np.full((48, 64, 1), 255, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    o = fresh(tmp_path / "opaque.png")
    assert np.array_equal(o.rgb, photo()) and o.note == "opaque alpha channel dropped"
    rgba[3, 5, 3] = 254  # one translucent pixel is enough
    Image.fromarray(rgba, "RGBA").save(tmp_path / "translucent.png")
    with pytest.raises(PictureRefused, match="1 of its 3072 pixels are transparent or translucent"):
        fresh(tmp_path / "translucent.png")
    la = np.stack([photo()[..., 0], np.zeros((48, 64), np.uint8)], axis=-1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    with pytest.raises(PictureRefused, match="transparent"):
        fresh(tmp_path / "la.png")
    p = Image.fromarray(photo()).convert("P")
    p.info["transparency"] = int(np.asarray(p)[0, 0])
    p.save(tmp_path / "pt.png", transparency=int(np.asarray(p)[0, 0]))
    with pytest.raises(PictureRefused, match="transparent"):
        fresh(tmp_path / "pt.png")


def test_a_transparent_colour_key_counts_as_alpha(tmp_path):
    rgb = photo()
    key = tuple(int(v) for v in rgb[0, 0])
    Image.fromarray(rgb).save(tmp_path / "keyed.png", transparency=key)
    with pytest.raises(PictureRefused, match="transparent"):
        fresh(tmp_path / "keyed.png")
    Image.fromarray(rgb).save(tmp_path / "unused.png", transparency=(1, 2, 3) if key != (1, 2, 3) else (4, 5, 6))
    o = fresh(tmp_path / "unused.png")
    assert np.array_equal(o.rgb, rgb) and o.note == "opaque alpha channel dropped"


# ------------------------------------------------------------------------------ orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_pillow_displays_it(tmp_path, orientation):
    path = with_exif_orientation(tmp_path / "o.jpg", photo(40, 56), orientation)
    o = fresh(path)
    with Image.open(path) as im:
        shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert np.array_equal(o.rgb, shown)
    assert (f"EXIF orientation {orientation} applied" in o.note) == (orientation != 1)
    assert (policy_token(str(path)) == "") == (orientation == 1)


def test_an_orientation_outside_1_to_8_is_refused(tmp_path):
    path = with_exif_orientation(tmp_path / "o.jpg", photo(), 9)
    with pytest.raises(PictureRefused, match="EXIF orientation 9 is not one of 1..8"):
        fresh(path)


# ------------------------------------------------------------------------------ other kinds


def test_frames_cmyk_and_unreadable_files_are_refused_with_reasons(tmp_path):
    with pytest.raises(PictureRefused, match="2 frames"):
        fresh(gif_two_frames(tmp_path / "a.gif"))
    Image.fromarray(photo()).convert("CMYK").save(tmp_path / "c.jpg")
    with pytest.raises(PictureRefused, match="CMYK samples: converting them to RGB needs colour management"):
        fresh(tmp_path / "c.jpg")
    (tmp_path / "t.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(BenchError, match="cannot read image"):
        fresh(tmp_path / "t.png")
    with pytest.raises(BenchError, match="image not found"):
        fresh(tmp_path / "nothing.png")


# ------------------------------------------------------------------------------ in a sweep


def test_the_policy_reaches_every_row_and_refusals_are_failed_rows(tmp_path):
    d = tmp_path / "img"
    d.mkdir()
    png16(d / "deep.png", ramp16(channels=1))
    Image.fromarray(photo()).save(d / "plain.png")
    with_exif_orientation(d / "turned.jpg", photo(40, 56), 6)
    tifffile.imwrite(d / "float.tif", (photo(24, 32) / 255.0).astype(np.float32), photometric="rgb")
    df, _ = sweep(tmp_path, d, extra=["codec.points=[30,90]"])
    by = {img: g for img, g in df.groupby("image")}
    assert set(by) == {"deep", "plain", "turned", "float"}
    assert (by["float"].status == "failed").all() and by["float"].error.str.contains("no defined white level").all()
    for name in ("deep", "plain", "turned"):
        assert (by[name].status == "ok").all()
    assert by["deep"].input_note.str.contains("16-bit samples").all() and by["plain"].input_note.eq("").all()
    assert (by["turned"].width == 40).all() and (by["turned"].height == 56).all()  # measured as displayed
    # the 16-bit grey picture's rows are ordinary rows now, not 51-75 dB at 0.004 bpp
    assert by["deep"].bpp.min() > 0.2 and by["deep"].psnr_rgb.max() < 50


def test_grey_pictures_give_no_infinite_chroma_psnr_anywhere(tmp_path):
    d = tmp_path / "img"
    d.mkdir()
    Image.fromarray(photo(64, 96)[..., 1]).save(d / "grey.png")
    Image.fromarray(photo(64, 96, 1)).save(d / "colour.png")
    df, out = sweep(tmp_path, d, codec="x265_420_10bit", extra=["codec.points=[27,37]", "codec.params.preset=ultrafast"])
    grey = df[df.image == "grey"]
    assert (grey.status == "ok").all() and grey.psnr_u.isna().all() and grey.psnr_yuv.isna().all()
    assert grey.metric_note.str.contains("psnr: the original has no chroma").all()
    assert np.isfinite(grey.psnr_y).all() and np.isfinite(grey.psnr_rgb).all()
    colour = df[df.image == "colour"]
    assert np.isfinite(colour.psnr_u).all() and colour.metric_note.eq("").all()
    summary = pd.read_csv(out / "summary.csv")
    numbers = summary.select_dtypes("number")
    assert not np.isinf(numbers.to_numpy()).any()  # the old summary showed inf for 4 of 5 codecs
    assert summary.psnr_u.isna().all() and summary.n_images.eq(2).all()  # a mean over both pictures or none


def test_a_metric_that_cannot_measure_a_small_picture_keeps_the_others(tmp_path):
    d = tmp_path / "img"
    d.mkdir()
    Image.fromarray(photo(16, 24)).save(d / "tiny.png")
    Image.fromarray(photo(40, 48)).save(d / "small.png")
    df, _ = sweep(tmp_path, d, codec="identity", extra=["codec.points=[0]", "metrics=[psnr,ms_ssim,lpips,vmaf,flip]",
                                                        "metric_device=cpu"])
    tiny, small = df[df.image == "tiny"].iloc[0], df[df.image == "small"].iloc[0]
    assert tiny.status == "ok" and math.isnan(tiny.lpips_alex) and math.isnan(tiny.vmaf) and math.isnan(tiny.ms_ssim_rgb)
    assert tiny.psnr_rgb == math.inf and tiny.flip == 0.0  # the unit's other metrics are kept
    for text in ("lpips: 24x16 has a side under 31 px", "vmaf: 24x16", "ms_ssim: short side 16 px"):
        assert text in tiny.metric_note
    assert small.lpips_alex == 0.0 and "lpips" not in small.metric_note


@pytest.mark.parametrize("net,side", [("alex", 31), ("vgg", 16)])
def test_the_declared_lpips_limits_are_the_packages_own(net, side):
    """MIN_SIDE is where the lpips package itself starts to work: one pixel less fails inside torch."""
    import torch

    from bench.metrics import lpips as L

    assert L.MIN_SIDE[net] == side
    model, _ = L.load(net, "cpu")
    for s, works in ((side, True), (side - 1, False)):
        x = torch.zeros(1, 3, s, s)
        try:
            model(x, x)
            ok = True
        except RuntimeError:
            ok = False
        assert ok == works, (net, s)


def test_a_metric_that_raises_is_left_out_with_its_reason_and_retried_next_run(tmp_path, monkeypatch):
    from bench import metrics
    from bench.metrics import flip

    ref = photo()

    def broken(*a, **k):
        raise RuntimeError("CUDA out of memory (injected)")

    monkeypatch.setattr(flip, "compute_batch", broken)
    out = metrics.compute(ref, ref, names=["psnr", "flip"])
    assert "flip" not in out and out["psnr_rgb"] == math.inf
    assert out["metric_note"] == "flip: not measured (RuntimeError: CUDA out of memory (injected)); tried again on the next run"
    assert metrics.missing({**out, "status": "ok"}, ["psnr", "flip"]) == ("flip",)
    with pytest.raises(RuntimeError, match="injected"):  # benchmarks ask for the exception itself
        metrics.compute(ref, ref, names=["psnr", "flip"], on_error="raise")


def test_the_encoders_own_reason_reaches_the_row(tmp_path):
    d = tmp_path / "img"
    d.mkdir()
    Image.fromarray(np.ascontiguousarray(np.tile(photo(8, 64), (1, 12, 1)))).save(d / "strip.png")  # 768 x 8
    df, _ = sweep(tmp_path, d, codec="x265_444_10bit", extra=["codec.points=[32]", "codec.params.preset=ultrafast"])
    row = df.iloc[0]
    assert row.status == "failed" and "Image size is too small (768x8)" in row.error
    assert "Nothing was written" not in row.error
