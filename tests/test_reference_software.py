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

import numpy as np
import pytest

from bench import codecs
from bench.core.assets import codecs_dir
from bench.core.colour import ColourSpec, pad_even, planes_to_rgb, rgb_to_planes
from bench.core.errors import BenchError, CodecUnavailable
from tests.fake_reference import ENV, ENV_SWITCHES, NAMES, fake_build, write_exe


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


# ---- the cfg follows the test conditions of the binary it runs with ---------------------------------------

# Option names of VTM's public cfg/encoder_intra_vtm.cfg (VTM-13.2, VTM-15.0 and VTM-18.2 carry the same
# set), the specification the shipped files are held to: every one is in them, but for the ones their
# headers list as left out.
VTM_PUBLIC_OPTIONS = """BitstreamFile ReconFile Profile MaxCUWidth MaxCUHeight IntraPeriod DecodingRefreshType GOPSize
FastSearch SearchRange HadamardME FEN FDM QP MaxDeltaQP MaxCuDQPSubdiv DeltaQpRD RDOQ RDOQTS DeblockingFilterOffsetInPPS
DeblockingFilterDisable DeblockingFilterBetaOffset_div2 DeblockingFilterTcOffset_div2 DeblockingFilterCbBetaOffset_div2
DeblockingFilterCbTcOffset_div2 DeblockingFilterCrBetaOffset_div2 DeblockingFilterCrTcOffset_div2 DeblockingFilterMetric
InternalBitDepth SAO TransformSkip TransformSkipFast TransformSkipLog2MaxSize SAOLcuBoundary SEIDecodedPictureHash
CbQpOffset CrQpOffset SameCQPTablesForAllChroma QpInValCb QpOutValCb TemporalSubsampleRatio ReWriteParamSets CTUSize
LCTUFast DualITree MinQTLumaISlice MinQTChromaISliceInChromaSamples MinQTNonISlice MaxMTTHierarchyDepth
MaxMTTHierarchyDepthISliceL MaxMTTHierarchyDepthISliceC MTS MTSIntraMaxCand MTSInterMaxCand SBT LFNST ISP Affine SbTMVP
MaxNumMergeCand LMChroma DepQuant IMV ALF IBC AllowDisFracMMVD AffineAmvr LMCSEnable LMCSSignalType LMCSUpdateCtrl
LMCSOffset MRL MIP JointCbCr ChromaTS PBIntraFast ISPFast FastMrg AMaxBT FastMIP FastLFNST AffineAmvrEncOpt
ALFAllowPredefinedFilters ALFStrengthTargetLuma ALFStrengthTargetChroma CCALFStrengthTarget""".split()
DEBLOCKING = {"DeblockingFilterBetaOffset_div2": "-2", "DeblockingFilterTcOffset_div2": "-5",
              "DeblockingFilterCbBetaOffset_div2": "-2", "DeblockingFilterCbTcOffset_div2": "-5",
              "DeblockingFilterCrBetaOffset_div2": "-2", "DeblockingFilterCrTcOffset_div2": "-5"}


def _vtm(tmp_path, clean_env, version: str | None, **params):
    from tests.fake_reference import banner_of

    banner = banner_of("vtm", version) if version else "VVCSoftware: VTM Encoder [Linux][GCC 12.2.0][64 bit]"
    root = fake_build(tmp_path / f"vtm-{version}", "vtm", banner=banner)
    clean_env.setenv("BENCH_VTM_DIR", str(root))
    return codecs.make("vtm", **params)


def test_vtm_cfg_follows_the_encoder_version_banner(tmp_path, clean_env):
    from bench.audit.cfgdiff import parse_cfg

    new = _vtm(tmp_path, clean_env, "23.13").cfg_choice()
    assert (new.version, new.shown) == ("16", "codecs/vtm/encoder_intra_vtm.cfg")
    assert "23.13" in new.reason and "JVET-Y0085" in new.reason and new.reason.startswith("auto")
    cfg16 = parse_cfg(new.path.read_text())
    assert {k: cfg16[k] for k in DEBLOCKING} == DEBLOCKING
    for version in ("16.0", "18.2"):
        assert _vtm(tmp_path, clean_env, version).cfg_choice().version == "16"
    for version in ("15.0", "13.2"):
        old = _vtm(tmp_path, clean_env, version).cfg_choice()
        assert (old.version, old.path.name) == ("15", "encoder_intra_vtm15.cfg") and version in old.reason
    cfg15 = parse_cfg(old.path.read_text())
    assert all(cfg15[k] == "0" for k in DEBLOCKING)
    # the two files differ in the six JVET-Y0085 offsets and nothing else
    assert {k for k in cfg16.keys() | cfg15.keys() if cfg16.get(k) != cfg15.get(k)} == set(DEBLOCKING)


def test_shipped_vtm_cfgs_hold_every_public_option_but_the_listed_ones(tmp_path, clean_env):
    from bench.audit.cfgdiff import header_comments, parse_cfg

    for name in ("encoder_intra_vtm.cfg", "encoder_intra_vtm15.cfg"):
        text = (codecs_dir() / "vtm" / name).read_text()
        keys, header = set(parse_cfg(text)), header_comments(text)
        left_out = set(VTM_PUBLIC_OPTIONS) - keys
        assert left_out == {"BitstreamFile", "ReconFile", "QP", "TemporalSubsampleRatio"}, name
        assert keys <= set(VTM_PUBLIC_OPTIONS), f"{name} sets options the public file does not: {keys - set(VTM_PUBLIC_OPTIONS)}"
        for key in left_out:
            assert key in header, f"{name}: {key} is left out but its header does not say so"
        assert "Every deviation from the public file" in header and "VTM-" in header


def test_vtm_cfg_refuses_what_it_cannot_match(tmp_path, clean_env):
    with pytest.raises(CodecUnavailable, match=r"VTM 12\.1: no shipped cfg.*codec.params.cfg"):
        _vtm(tmp_path, clean_env, "12.1").check()
    with pytest.raises(CodecUnavailable, match="no version in the encoder's banner.*cfg_version"):
        _vtm(tmp_path, clean_env, None).check()
    with pytest.raises(BenchError, match="cfg_version '14' is not one of auto, 16, 15"):
        codecs.make("vtm", cfg_version=14)
    with pytest.raises(BenchError, match="not both"):
        codecs.make("vtm", cfg="/some/file.cfg", cfg_version="15")


def test_explicit_cfg_version_or_file_wins_and_says_why(tmp_path, clean_env):
    forced = _vtm(tmp_path, clean_env, "23.13", cfg_version=15).cfg_choice()
    assert forced.version == "15" and "codec.params.cfg_version=15" in forced.reason and "23.13" in forced.reason
    no_banner = _vtm(tmp_path, clean_env, None, cfg_version="16").cfg_choice()  # explicit: no banner needed
    assert no_banner.version == "16" and "VTM ?" in no_banner.reason
    mine = tmp_path / "my.cfg"
    mine.write_text("SAO : 1\n")
    own = _vtm(tmp_path, clean_env, "23.13", cfg=str(mine)).cfg_choice()
    assert (own.version, own.path, own.shown) == ("user", mine, str(mine)) and "codec.params.cfg" in own.reason


def test_hm_cfg_choice_and_old_hm_refused(tmp_path, clean_env):
    from tests.fake_reference import banner_of

    clean_env.setenv("BENCH_HM_DIR", str(fake_build(tmp_path / "hm18", "hm", banner=banner_of("hm", "18.0"))))
    c = codecs.make("hm").cfg_choice()
    assert c.version == "16" and c.shown == "codecs/hm/encoder_intra_main_rext.cfg" and "HM 18.0" in c.reason
    clean_env.setenv("BENCH_HM_DIR", str(fake_build(tmp_path / "hm15", "hm", banner=banner_of("hm", "15.0"))))
    with pytest.raises(CodecUnavailable, match=r"HM 15\.0: no shipped cfg"):
        codecs.make("hm").check()


def test_rows_record_the_cfg_and_why_and_the_choice_changes_the_identity(tmp_path, clean_env):
    from bench.data.datasets import ImageRef
    from bench.core.files import sha256_file
    from bench.results.store import RowStore
    from bench.sweep.runner import execute
    from bench.sweep.units import CodecConfig, codec_identity, make_adapter, plan
    from PIL import Image

    Image.fromarray(picture(24, 40)).save(tmp_path / "pic.png")
    img = ImageRef("pic", str(tmp_path / "pic.png"), sha256_file(tmp_path / "pic.png"))
    hashes = {}
    for version in ("23.13", "15.0"):
        from tests.fake_reference import banner_of

        root = fake_build(tmp_path / f"b{version}", "vtm", banner=banner_of("vtm", version))
        enc, dec = (str(root / "bin" / n) for n in NAMES["vtm"])
        cfg = CodecConfig("vtm_420_10bit", "vtm", {"encoder": enc, "decoder": dec}, (32,))
        store = RowStore(tmp_path / f"sweep{version}")
        units, _ = plan("d", [img], cfg, store)
        (row,) = execute(units, 1)
        assert row["status"] == "ok", row["error"]
        want = "16" if version == "23.13" else "15"
        assert row["cfg_version"] == want and version in row["cfg_reason"]
        assert row["cfg"].startswith("codecs/vtm/encoder_intra_vtm") and f"set {want}" in row["encoder"]
        hashes[version], ident = codec_identity(cfg, make_adapter(cfg))
        assert ident["files"]["cfg"] == sha256_file(make_adapter(cfg).cfg_path())
    assert hashes["23.13"] != hashes["15.0"]


def test_an_unknown_option_in_the_log_fails_the_unit(which, clean_env, tmp_path):
    fake_build(tmp_path / "build", which)
    clean_env.setenv(f"{ENV[which]}_DIR", str(tmp_path / "build"))
    clean_env.setenv("FAKE_UNKNOWN_OPTION", "DeblockingFilterTcOffset_div2")
    with pytest.raises(RuntimeError, match="Unknown option `DeblockingFilterTcOffset_div2'"):
        codecs.make(which).encode(picture(16, 16), 32, tmp_path)


@pytest.mark.parametrize("name", ["vtm_420_10bit", "hm_444_10bit"])
def test_codec_configs_take_cfg_version_without_a_plus(name):
    from tests.helpers import compose

    cfg = compose([f"codec={name}", "codec.params.cfg_version=16"])
    assert cfg.codec.params.cfg_version == 16 and compose([f"codec={name}"]).codec.params.cfg_version == "auto"
