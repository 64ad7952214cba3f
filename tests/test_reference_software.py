"""HM / VTM adapters: tests of the ADAPTER'S PLUMBING ONLY, with fake encoder/decoder binaries.

HM and VTM are not installable here, so these tests write two small Python scripts (tests/fake_reference.py)
that accept the command line the adapter builds (the same option names and forms HM/VTM take), check
the raw .yuv they are given against the declared size/bit depth/chroma format, and "encode" it
losslessly behind a small header ("decode" gives it back).  The round trip is therefore lossless,
which lets the tests prove that the adapter writes planes, sizes, bit depths, padding and cropping
consistently and reads the decoder's output back into the same pixels.  The cfg choice by version
banner is tested with fakes that print the banners of real releases.

Nothing here says anything about HM's or VTM's coding: no real bitstream is produced or decoded.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from bench import codecs
from bench.core.colour import ColourSpec, pad_even, planes_to_rgb, rgb_to_planes
from bench.core.errors import CodecUnavailable
from tests.fake_reference import ENV, ENV_SWITCHES, NAMES, STYLES, fake_build, write_exe

@pytest.fixture
def clean_env(monkeypatch):
    for prefix in ENV.values():
        for suffix in ("_DIR", "_ENCODER", "_DECODER"):
            monkeypatch.delenv(prefix + suffix, raising=False)
    for name in ENV_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def picture(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([(x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1), ((x + 2 * y) * 7) % 256], axis=-1)
    rgb = rgb + np.random.default_rng(3).integers(-3, 4, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


@pytest.fixture(params=["hm", "vtm"])
def which(request):
    return request.param


def test_missing_binary_names_what_to_set(which, clean_env):
    adapter = codecs.make(which)
    with pytest.raises(CodecUnavailable) as err:
        adapter.check()
    msg = str(err.value)
    assert "\n" not in msg
    assert f"{ENV[which]}_DIR" in msg and f"{ENV[which]}_ENCODER" in msg
    assert "codec.params.encoder" in msg and "codecs/README.md" in msg
    with pytest.raises(CodecUnavailable):
        adapter.version()


def test_bad_paths_are_reported(which, clean_env, tmp_path):
    clean_env.setenv(f"{ENV[which]}_ENCODER", str(tmp_path / "nope" / "Encoder"))
    with pytest.raises(CodecUnavailable, match=f"{ENV[which]}_ENCODER"):
        codecs.make(which).check()
    clean_env.delenv(f"{ENV[which]}_ENCODER")
    clean_env.setenv(f"{ENV[which]}_DIR", str(tmp_path / "empty"))
    with pytest.raises(CodecUnavailable, match=f"{ENV[which]}_DIR"):
        codecs.make(which).check()


@pytest.mark.parametrize("chroma,matrix,size", [
    ("444", "bt709", (65, 97)),  # odd size, 10-bit 4:4:4 limited range: the conversion is exact
    ("444", "rgb", (65, 97)),  # GBR planes: exact
    ("420", "bt709", (65, 97)),  # odd size padded to even, cropped back
    ("420", "bt709", (64, 96)),
])
def test_round_trip_through_fake_binaries(which, chroma, matrix, size, clean_env, tmp_path):
    root = fake_build(tmp_path / "build", which)
    clean_env.setenv(f"{ENV[which]}_DIR", str(root))
    adapter = codecs.make(which, chroma=chroma, matrix=matrix)
    adapter.check()
    rgb = picture(*size)
    work = tmp_path / "work"
    work.mkdir()
    enc = adapter.encode(rgb, 27, work)
    assert enc.path.stat().st_size > 0 and not (work / "input.yuv").exists()
    dec = adapter.decode(enc, work)
    assert dec.rgb.shape == rgb.shape and dec.rgb.dtype == np.uint8

    h, w = size
    cw, chh = (w + w % 2, h + h % 2) if chroma == "420" else (w, h)
    for opt in ["--QP=27", f"--SourceWidth={cw}", f"--SourceHeight={chh}", "--InputBitDepth=10",
                "--InternalBitDepth=10", "--OutputBitDepth=10", f"--InputChromaFormat={chroma}",
                f"--ChromaFormatIDC={chroma}", "--FramesToBeEncoded=1", "--ConformanceWindowMode=1", " -b ", " -c "]:
        assert opt in enc.command, f"{opt!r} missing from {enc.command}"
    assert "-d 10" in dec.command
    if which == "hm":
        assert f"--CrossComponentPrediction={1 if chroma == '444' else 0}" in enc.command

    if chroma == "444":
        assert np.array_equal(dec.rgb, rgb), "a lossless 'codec' must give the picture back exactly"
    else:  # the fake is lossless, so only the 4:2:0 colour conversion remains
        spec = ColourSpec(matrix="bt709", range="limited", chroma="420", bit_depth=10)
        expect = planes_to_rgb(rgb_to_planes(pad_even(rgb), spec), spec)[:h, :w]
        assert np.array_equal(dec.rgb, expect)


def test_explicit_params_win_over_environment(which, clean_env, tmp_path):
    root = fake_build(tmp_path / "build", which)
    clean_env.setenv(f"{ENV[which]}_DIR", str(tmp_path / "elsewhere"))  # would fail if used
    enc, dec = NAMES[which]
    adapter = codecs.make(which, encoder=str(root / "bin" / enc), decoder=str(root / "bin" / dec))
    adapter.check()
    version = adapter.version()
    assert "99.0-fake" in version and "decoder:" in version
    files = adapter.files()  # their sha256 (not the version banner alone) identifies the configuration
    assert files["encoder"] == str(root / "bin" / enc) and files["decoder"] == str(root / "bin" / dec)
    assert files["cfg"].endswith(".cfg")
    assert adapter.colour()["colour_bit_depth"] == 10


def test_eight_bit_files(which, clean_env, tmp_path):
    fake_build(tmp_path / "build", which)
    clean_env.setenv(f"{ENV[which]}_DIR", str(tmp_path / "build"))
    adapter = codecs.make(which, chroma="444", bit_depth=8)
    rgb = picture(33, 47)
    enc = adapter.encode(rgb, 32, tmp_path)
    assert "--InputBitDepth=8" in enc.command
    dec = adapter.decode(enc, tmp_path)
    spec = ColourSpec(matrix="bt709", range="limited", chroma="444", bit_depth=8)
    assert np.array_equal(dec.rgb, planes_to_rgb(rgb_to_planes(rgb, spec), spec))


def test_wrong_qp_in_the_log_fails_the_unit(which, clean_env, tmp_path):
    fake_build(tmp_path / "build", which)
    clean_env.setenv(f"{ENV[which]}_DIR", str(tmp_path / "build"))
    clean_env.setenv("FAKE_QP_SHIFT", "-3")  # as if the encoder applied an intra QP offset
    with pytest.raises(RuntimeError, match="requested 32"):
        codecs.make(which).encode(picture(16, 16), 32, tmp_path)


def test_decoder_mismatch_with_reconstruction_fails(which, clean_env, tmp_path):
    fake_build(tmp_path / "build", which)
    clean_env.setenv(f"{ENV[which]}_DIR", str(tmp_path / "build"))
    adapter = codecs.make(which)
    enc = adapter.encode(picture(16, 16), 32, tmp_path)
    clean_env.setenv("FAKE_CORRUPT", "1")
    with pytest.raises(RuntimeError, match="reconstruction"):
        adapter.decode(enc, tmp_path)


def test_shipped_cfg_files_exist_and_are_recorded(which, clean_env, tmp_path):
    fake_build(tmp_path / "build", which)
    clean_env.setenv(f"{ENV[which]}_DIR", str(tmp_path / "build"))
    adapter = codecs.make(which)
    cfg = adapter.cfg_path()
    assert cfg.is_file() and cfg.parent.parent.name == "codecs"
    text = cfg.read_text()
    assert "IntraPeriod" in text and "Origin:" in text
    assert cfg.name in adapter.version()
    assert os.path.basename(str(cfg)) in adapter.encode(picture(8, 8), 37, tmp_path).command


def test_cmake_umake_layout_is_found(which, clean_env, tmp_path):
    """A cmake build leaves <checkout>/bin/umake/<compiler>/<arch>/release/<App> (no *Static names)."""
    from tests.fake_reference import scripts

    release = tmp_path / "checkout" / "bin" / "umake" / "gcc-12.2" / "x86_64" / "release"
    enc, dec = (n.replace("Static", "") for n in NAMES[which])
    enc_text, dec_text = scripts(which)
    write_exe(release / enc, enc_text)
    write_exe(release / dec, dec_text)
    clean_env.setenv(f"{ENV[which]}_DIR", str(tmp_path / "checkout"))
    adapter = codecs.make(which)
    adapter.check()
    rgb = picture(20, 30)
    enc_out = adapter.encode(rgb, 30, tmp_path)
    assert str(release / enc) in enc_out.command
    assert adapter.decode(enc_out, tmp_path).rgb.shape == rgb.shape
