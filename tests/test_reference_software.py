"""HM / VTM adapters: tests of the ADAPTER'S PLUMBING ONLY, with fake encoder/decoder binaries.

HM and VTM are not installable here, so these tests write two tiny Python scripts that accept the
command line the adapter builds (the same option names and forms HM/VTM take), check the raw .yuv
they are given against the declared size/bit depth/chroma format, and "encode" by copying the .yuv
into the bitstream file behind a small header ("decode" copies it back).  The round trip is
therefore lossless, which lets the tests prove that the adapter writes planes, sizes, bit depths,
padding and cropping consistently and reads the decoder's output back into the same pixels.

Nothing here says anything about HM's or VTM's coding: no real bitstream is produced or decoded.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import codecs
from bench.core.colour import ColourSpec, pad_even, planes_to_rgb, rgb_to_planes
from bench.core.errors import CodecUnavailable

FAKE_ENCODER = r'''#!{python}
"""FAKE {label} encoder for lic-bench's adapter tests: copies the .yuv into the bitstream. Not {label}."""
import json, os, sys

args = sys.argv[1:]
if "--help" in args:
    print("{banner}")
    print("  (fake: accepts the options of lic-bench's adapter only)")
    sys.exit(1)
opts, i = {{}}, 0
while i < len(args):
    a = args[i]
    if a.startswith("--") and "=" in a:
        k, v = a[2:].split("=", 1)
        opts[k] = v
        i += 1
    elif a in ("-c", "-i", "-b", "-o"):
        opts[a] = args[i + 1]
        i += 2
    else:
        sys.exit("fake encoder: unknown argument " + a)
need = ["-c", "-i", "-b", "SourceWidth", "SourceHeight", "FrameRate", "FramesToBeEncoded", "QP", "InputBitDepth",
        "InternalBitDepth", "OutputBitDepth", "InputChromaFormat", "ChromaFormatIDC", "ConformanceWindowMode"]
missing = [k for k in need if k not in opts]
if missing:
    sys.exit("fake encoder: missing " + ", ".join(missing))
for line in open(opts["-c"]):
    line = line.split("#", 1)[0].strip()
    if line and ":" not in line:
        sys.exit("fake encoder: bad cfg line " + line)
w, h = int(opts["SourceWidth"]), int(opts["SourceHeight"])
bd, chroma, qp = int(opts["InputBitDepth"]), opts["InputChromaFormat"], int(opts["QP"])
if opts["FramesToBeEncoded"] != "1" or opts["ChromaFormatIDC"] != chroma:
    sys.exit("fake encoder: expected one frame coded in its input chroma format")
if not (bd == int(opts["InternalBitDepth"]) == int(opts["OutputBitDepth"])):
    sys.exit("fake encoder: bit depths differ")
if chroma == "420" and (w % 2 or h % 2):
    sys.exit("fake encoder: 4:2:0 needs even width and height")
cw, ch = (w, h) if chroma == "444" else (w // 2, h // 2)
data = open(opts["-i"], "rb").read()
need_bytes = (w * h + 2 * cw * ch) * (1 if bd == 8 else 2)
if len(data) != need_bytes:
    sys.exit("fake encoder: input has %d bytes, expected %d" % (len(data), need_bytes))
header = json.dumps({{"w": w, "h": h, "bd": bd, "chroma": chroma, "qp": qp}}).encode() + b"\n"
open(opts["-b"], "wb").write(b"FAKE" + header + data)
if "-o" in opts:
    open(opts["-o"], "wb").write(data)
shown = qp + int(os.environ.get("FAKE_QP_SHIFT", "0"))
print("{slice_line}".format(qp=shown, bits=8 * len(data)))
'''

FAKE_DECODER = r'''#!{python}
"""FAKE {label} decoder for lic-bench's adapter tests: copies the .yuv back out. Not {label}."""
import json, os, sys

args = sys.argv[1:]
if "--help" in args:
    print("{banner}")
    sys.exit(1)
opts, i = {{}}, 0
while i < len(args):
    if args[i] in ("-b", "-o", "-d"):
        opts[args[i]] = args[i + 1]
        i += 2
    else:
        sys.exit("fake decoder: unknown argument " + args[i])
blob = open(opts["-b"], "rb").read()
assert blob[:4] == b"FAKE", "not a fake bitstream"
end = blob.index(b"\n")
info, data = json.loads(blob[4:end]), bytearray(blob[end + 1:])
if int(opts["-d"]) != info["bd"]:
    sys.exit("fake decoder: -d %s but the stream has %d bits" % (opts["-d"], info["bd"]))
if os.environ.get("FAKE_CORRUPT"):
    data[0] ^= 1
open(opts["-o"], "wb").write(bytes(data))
'''

STYLES = {
    "hm": {"label": "HM", "banner": "HM software: Encoder Version [99.0-fake] (including RExt)[Linux][GCC][64 bit]",
           "slice_line": "POC    0 TId: 0 ( I-SLICE, nQP {qp} QP {qp} )     {bits} bits [Y 99.0 dB]"},
    "vtm": {"label": "VTM", "banner": "VVCSoftware: VTM Encoder Version 99.0-fake [Linux][GCC][64 bit]",
            "slice_line": "POC    0 LId:  0 TId: 0 ( IDR_N_LP, I-SLICE, QP {qp} )     {bits} bits [Y 99.0 dB]"},
}
NAMES = {"hm": ("TAppEncoderStatic", "TAppDecoderStatic"), "vtm": ("EncoderAppStatic", "DecoderAppStatic")}
ENV = {"hm": "BENCH_HM", "vtm": "BENCH_VTM"}


def _write_exe(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def clean_env(monkeypatch):
    for prefix in ENV.values():
        for suffix in ("_DIR", "_ENCODER", "_DECODER"):
            monkeypatch.delenv(prefix + suffix, raising=False)
    monkeypatch.delenv("FAKE_QP_SHIFT", raising=False)
    monkeypatch.delenv("FAKE_CORRUPT", raising=False)
    return monkeypatch


def fake_build(root: Path, which: str) -> Path:
    """A fake build tree: <root>/bin/<EncoderName> and <DecoderName>, like a real cmake build."""
    st = {**STYLES[which], "python": sys.executable}
    enc, dec = NAMES[which]
    _write_exe(root / "bin" / enc, FAKE_ENCODER.format(**st))
    _write_exe(root / "bin" / dec, FAKE_DECODER.format(**st))
    return root


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
    st = {**STYLES[which], "python": sys.executable}
    release = tmp_path / "checkout" / "bin" / "umake" / "gcc-12.2" / "x86_64" / "release"
    enc, dec = (n.replace("Static", "") for n in NAMES[which])
    _write_exe(release / enc, FAKE_ENCODER.format(**st))
    _write_exe(release / dec, FAKE_DECODER.format(**st))
    clean_env.setenv(f"{ENV[which]}_DIR", str(tmp_path / "checkout"))
    adapter = codecs.make(which)
    adapter.check()
    rgb = picture(20, 30)
    enc_out = adapter.encode(rgb, 30, tmp_path)
    assert str(release / enc) in enc_out.command
    assert adapter.decode(enc_out, tmp_path).rgb.shape == rgb.shape
