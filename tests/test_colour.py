import numpy as np
import pytest

from bench.core.colour import ColourSpec, _down2, _up2_axis, pad_even, planes_to_rgb, rgb_to_planes


def all_colours(chunks=8):
    """Every 8-bit RGB triple, in chunks to keep memory small."""
    idx = np.arange(2**24, dtype=np.uint32)
    rgb = np.stack([(idx >> 16) & 255, (idx >> 8) & 255, idx & 255], -1).astype(np.uint8)
    for part in np.array_split(rgb, chunks):
        yield part.reshape(1, -1, 3)


@pytest.mark.parametrize("matrix", ["bt709", "bt601"])
@pytest.mark.parametrize("rng", ["limited", "full"])
def test_10bit_444_round_trip_is_exact_for_every_colour(matrix, rng):
    spec = ColourSpec(matrix=matrix, range=rng, chroma="444", bit_depth=10)
    for rgb in all_colours():
        assert np.array_equal(planes_to_rgb(rgb_to_planes(rgb, spec), spec), rgb)


def test_8bit_limited_round_trip_rounds_instead_of_truncating():
    # FIELD-NOTES pitfall 1: truncation caps a lossless pipeline near 43.7 dB with a -1.46 LSB bias;
    # rounding gives about 52 dB at 8 bits and no bias.
    spec = ColourSpec(matrix="bt709", range="limited", chroma="444", bit_depth=8)
    sq, bias, n = 0.0, 0.0, 0
    for rgb in all_colours():
        d = planes_to_rgb(rgb_to_planes(rgb, spec), spec).astype(np.float64) - rgb
        sq += float(np.sum(d * d))
        bias += float(np.sum(d))
        n += d.size
    psnr = 10 * np.log10(255**2 / (sq / n))
    assert 51.5 < psnr < 52.6
    assert abs(bias / n) < 0.01


def test_420_keeps_flat_colour_and_needs_even_size():
    spec = ColourSpec(chroma="420", bit_depth=10)
    flat = np.zeros((6, 8, 3), np.uint8) + np.array([200, 40, 90], np.uint8)
    assert np.array_equal(planes_to_rgb(rgb_to_planes(flat, spec), spec), flat)
    planes = rgb_to_planes(flat, spec)
    assert planes[0].shape == (6, 8) and planes[1].shape == (3, 4)
    with pytest.raises(ValueError, match="even"):
        rgb_to_planes(flat[:5, :7], spec)


def test_pad_even_replicates_edges():
    img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    p = pad_even(img)
    assert p.shape == (6, 8, 3)
    assert np.array_equal(p[:5, :7], img) and np.array_equal(p[5, :7], img[4]) and np.array_equal(p[:5, 7], img[:, 6])


def test_chroma_resampling_preserves_linear_ramps_inside():
    ramp = np.tile(np.arange(16, dtype=np.float64), (8, 1))
    up = _up2_axis(_up2_axis(_down2(ramp), 0), 1)
    # centre-sited: interior samples of a linear ramp come back exactly
    assert np.allclose(up[:, 1:-1], ramp[:, 1:-1])


def test_420_rgb_ceiling_on_a_photo_is_well_below_lossless(photo):
    # The documented ceiling: 4:2:0 loses colour detail even with a lossless codec; compare 4:4:4
    # and 4:2:0 codecs only in RGB.
    img = photo(256, 256)
    spec = ColourSpec(chroma="420", bit_depth=10)
    back = planes_to_rgb(rgb_to_planes(img, spec), spec)
    mse = np.mean((back.astype(float) - img) ** 2)
    assert 30 < 10 * np.log10(255**2 / mse) < 60


def test_bad_spec_is_rejected():
    with pytest.raises(ValueError, match="matrix"):
        ColourSpec(matrix="bt2100")
    with pytest.raises(ValueError, match="chroma"):
        ColourSpec(chroma="422")
