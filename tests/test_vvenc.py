import numpy as np
import pytest

from bench import codecs


@pytest.fixture(autouse=True)
def _need_vvenc(ffmpeg_with):
    ffmpeg_with("libvvenc")


def test_vvenc_codes_intra_at_requested_qp_without_qpa(tmp_path, photo):
    img = photo(64, 96)
    adapter = codecs.make("vvenc", preset="faster")
    enc = adapter.encode(img, 27, tmp_path)
    assert "-qpa 0" in enc.command and "IntraPeriod=1:IntraQPOffset=0" in enc.command
    assert "Perceptual optimization                : Disabled" in enc.log
    dec = adapter.decode(enc, tmp_path)
    assert dec.rgb.shape == img.shape
    assert 10 * np.log10(255**2 / np.mean((dec.rgb.astype(float) - img) ** 2)) > 28


def test_vvenc_odd_size(tmp_path, photo):
    img = photo(63, 91, "coffee")
    adapter = codecs.make("vvenc", preset="faster")
    enc = adapter.encode(img, 32, tmp_path)
    assert (enc.meta["coded_w"], enc.meta["coded_h"]) == (92, 64)
    assert adapter.decode(enc, tmp_path).rgb.shape == img.shape


def test_vvenc_guard_refuses_a_log_that_shows_qpa_on():
    # An ffmpeg/vvenc that ignored -qpa 0 would print this; the row must fail, not pass silently.
    adapter = codecs.make("vvenc", preset="faster")
    log = "vvenc [notice]: QP : 32\nvvenc [notice]: Intra period (keyframe) : 1\nvvenc [notice]: Perceptual optimization : Enabled\n"
    with pytest.raises(RuntimeError, match="Perceptual optimization"):
        adapter._verify(log, 32)
