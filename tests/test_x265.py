"""libx265 through the pinned ffmpeg: each FIELD-NOTES trap has a test that fails if it returns."""

import re

import numpy as np
import pytest

from bench import codecs


@pytest.fixture(autouse=True)
def _need_x265(ffmpeg_with):
    ffmpeg_with("libx265")


def code(tmp_path, rgb, qp=32, **params):
    params.setdefault("preset", "ultrafast")
    adapter = codecs.make("x265", **params)
    enc = adapter.encode(rgb, qp, tmp_path)
    dec = adapter.decode(enc, tmp_path)
    return adapter, enc, dec


def test_lossless_444_10bit_round_trip_returns_identical_pixels(tmp_path, photo):
    img = photo(128, 160)
    _, enc, dec = code(tmp_path, img, chroma="444", bit_depth=10, x265_params={"lossless": 1})
    assert np.array_equal(dec.rgb, img)


def test_lossless_444_10bit_odd_size(tmp_path, photo):
    img = photo(67, 93, "coffee")
    _, _, dec = code(tmp_path, img, chroma="444", bit_depth=10, x265_params={"lossless": 1})
    assert np.array_equal(dec.rgb, img)


def test_i_picture_is_coded_at_the_requested_qp(tmp_path, photo):
    _, enc, _ = code(tmp_path, photo(64, 96), qp=30)
    assert re.search(r"frame I:\s+1, Avg QP:30\.00", enc.log)


def test_qp_guard_catches_the_ipratio_trap(tmp_path, photo):
    # Without ipratio=1, qp=30 codes the I picture at 27; the adapter must refuse such a row.
    with pytest.raises(RuntimeError, match="QP 27"):
        code(tmp_path, photo(64, 96), qp=30, x265_params={"ipratio": 1.4})


def test_tune_psnr_is_honoured(tmp_path, photo):
    _, enc, _ = code(tmp_path, photo(64, 96), chroma="444")
    tools = " ".join(line for line in enc.log.splitlines() if "tools:" in line)
    assert tools and "psy-rd" not in tools and "Cb/Cr QP Offset" not in enc.log
    assert "-tune psnr" in enc.command


def test_without_tune_psnr_the_trap_is_visible_to_the_guard(tmp_path, photo):
    # The strings the guard looks for are real: with no tune, x265 turns psy-rd on and adds +6 chroma QP.
    _, enc, _ = code(tmp_path, photo(64, 96), chroma="444", tune=None)
    assert "psy-rd=2.00" in enc.log and re.search(r"Cb/Cr QP Offset\s*:\s*6 / 6", enc.log)


def test_no_options_sei_in_the_bytes(tmp_path, photo):
    _, enc, _ = code(tmp_path, photo(64, 96))
    data = enc.path.read_bytes()
    assert data[:4] == b"\x00\x00\x00\x01"  # raw Annex-B
    assert b"x265 (build" not in data and b"options:" not in data
    # and the detector works: with info=1 the SEI is there
    (tmp_path / "sei").mkdir()
    _, enc2, _ = code(tmp_path / "sei", photo(64, 96), x265_params={"info": 1})
    assert b"x265 (build" in enc2.path.read_bytes()


def test_bytes_are_deterministic(tmp_path, photo):
    img = photo(64, 96)
    a = code(tmp_path, img)[1].path.read_bytes()
    b = code(tmp_path, img)[1].path.read_bytes()
    assert a == b


@pytest.mark.parametrize("chroma", ["420", "444"])
def test_odd_size_decodes_to_the_original_size(tmp_path, photo, chroma):
    img = photo(65, 97, "chelsea")
    adapter, enc, dec = code(tmp_path, img, qp=22, chroma=chroma)
    assert dec.rgb.shape == img.shape
    if chroma == "420":
        assert (enc.meta["coded_w"], enc.meta["coded_h"]) == (98, 66)
    mse = np.mean((dec.rgb.astype(float) - img) ** 2)
    assert 10 * np.log10(255**2 / mse) > 30


def test_unknown_parameter_is_one_clear_error():
    from bench.core.errors import BenchError

    with pytest.raises(BenchError, match=r"unknown parameter\(s\) \['qpp'\]"):
        codecs.make("x265", qpp=3)
