"""WebP, JPEG 2000, AVIF and JPEG XL adapters: real encodes and decodes of small synthetic pictures.

Each test goes through the adapter API the harness uses (make -> check -> encode -> decode on the
written file).  A test skips only when the adapter's own check() says the library feature is
missing on this machine (CodecUnavailable), with that reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from bench import codecs
from bench.codecs.avif import avif_signal
from bench.codecs.jpeg2000 import cod_marker
from bench.codecs.jpegxl import check_no_conversion
from bench.core.errors import BenchError, CodecUnavailable
from bench.metrics import psnr

CONF = Path(__file__).resolve().parents[1] / "conf" / "codec"

# Points listed from the lowest rate to the highest.
CASES = {
    "webp": [10, 50, 90],
    "jpeg2000": [40, 20, 10],  # compression ratio: smaller ratio = more bytes
    "avif": [30, 60, 90],
    "jpegxl": [8, 2, 0.5],  # Butteraugli distance: smaller distance = more bytes
}
SIZES = [(64, 96), (65, 97)]  # (height, width): an even one and an odd one


def picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus mild noise: natural enough for RD behaviour, tiny to code."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rgb = np.stack([
        40 + 150 * x / w + 20 * np.sin(y / 7),
        60 + 120 * y / h + 15 * np.cos(x / 9),
        200 - 100 * (x + y) / (w + h),
    ], axis=-1)
    rgb += np.random.default_rng(seed).normal(0, 2.0, rgb.shape)
    return np.clip(np.floor(rgb + 0.5), 0, 255).astype(np.uint8)


def adapter_or_skip(name: str, threads: int = 1, **params):
    adapter = codecs.make(name, threads=threads, **params)
    try:
        adapter.check()
    except CodecUnavailable as exc:
        pytest.skip(f"{name} not available here: {exc}")
    return adapter


def roundtrip(adapter, rgb: np.ndarray, point, workdir: Path):
    workdir.mkdir(parents=True, exist_ok=True)
    enc = adapter.encode(rgb, point, workdir)
    nbytes = enc.path.stat().st_size
    dec = adapter.decode(enc, workdir)
    return enc, nbytes, dec


@pytest.mark.parametrize("source", ["synthetic", "photo"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
@pytest.mark.parametrize("name", sorted(CASES))
def test_rate_distortion_behaviour(name, size, source, photo, tmp_path):
    adapter = adapter_or_skip(name)
    rgb = picture(*size) if source == "synthetic" else photo(*size)
    sizes, psnrs = [], []
    for i, point in enumerate(CASES[name]):
        enc, nbytes, dec = roundtrip(adapter, rgb, point, tmp_path / str(i))
        assert nbytes > 0
        assert dec.rgb.shape == rgb.shape and dec.rgb.dtype == np.uint8
        assert enc.command and dec.command
        assert enc.timing.wall > 0 and dec.timing.wall > 0
        sizes.append(nbytes)
        psnrs.append(psnr(rgb, dec.rgb))
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), f"bytes not increasing with rate: {sizes}"
    assert psnrs == sorted(psnrs), f"PSNR not increasing with rate: {psnrs} at bytes {sizes}"
    assert psnrs[0] > 20, f"implausibly low PSNR {psnrs}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bytes_do_not_depend_on_run_or_threads(name, photo, tmp_path):
    """The harness's `threads` is not part of a row's key, so it must not change the bytes
    (libaom's output does depend on its thread count: the AVIF adapter pins it as a parameter)."""
    rgb = photo(128, 160)
    point = CASES[name][1]
    out = []
    for i, threads in enumerate((1, 1, 2)):
        (tmp_path / str(i)).mkdir()
        out.append(adapter_or_skip(name, threads=threads).encode(rgb, point, tmp_path / str(i)).path.read_bytes())
    assert out[0] == out[1] == out[2]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
def test_jpegxl_distance_zero_is_lossless(size, tmp_path):
    adapter = adapter_or_skip("jpegxl")
    rgb = picture(*size)
    _, nbytes, dec = roundtrip(adapter, rgb, 0, tmp_path)
    assert nbytes > 0
    assert np.array_equal(dec.rgb, rgb), "libjxl distance 0 must be bit-exact through the ffmpeg rgb24 path"


def test_jpegxl_refuses_a_silent_conversion():
    log_ok = ("[graph -1 input from stream 0:0 @ 0x1] w:97 h:65 pixfmt:rgb24 tb:1/25 csp:gbr range:pc\n"
              "  Stream #0:0: Video: jpegxl, 1 reference frame, rgb24(pc, gbr/bt709/iec61966-2-1), 97x65\n")
    check_no_conversion(log_ok, "jpegxl", "test")
    with pytest.raises(RuntimeError, match="auto_scale"):
        check_no_conversion(log_ok + "[auto_scale_0 @ 0x2] w:97 h:65 fmt:rgb24 -> fmt:rgb48le\n", "jpegxl", "test")
    with pytest.raises(RuntimeError, match="rgb24"):
        check_no_conversion(log_ok.replace("pixfmt:rgb24", "pixfmt:rgb48le"), "jpegxl", "test")


def test_jpegxl_rejects_out_of_range_distance(tmp_path):
    adapter = adapter_or_skip("jpegxl")
    with pytest.raises(ValueError):
        adapter.encode(picture(16, 16), 20, tmp_path)


@pytest.mark.parametrize("mct,matrix", [(1, "bt601"), (0, "rgb")])
def test_jpeg2000_codestream_says_what_was_asked(mct, matrix, tmp_path):
    adapter = adapter_or_skip("jpeg2000", mct=mct)
    enc = adapter.encode(picture(64, 96), 20, tmp_path)
    data = enc.path.read_bytes()
    assert data[:4] == b"\xff\x4f\xff\x51", "default output is a raw .j2k codestream"
    cod = cod_marker(data)
    assert cod["mct"] == mct and cod["wavelet"] == 0 and cod["layers"] == 1
    assert adapter.colour()["colour_matrix"] == matrix
    assert f"mct={mct}" in enc.command


def test_jpeg2000_jp2_container(tmp_path):
    adapter = adapter_or_skip("jpeg2000", jp2=True)
    enc = adapter.encode(picture(64, 96), 20, tmp_path)
    assert enc.path.suffix == ".jp2"
    assert enc.path.read_bytes()[4:8] == b"jP  "
    dec = adapter.decode(enc, tmp_path)
    assert dec.rgb.shape == (64, 96, 3)


@pytest.mark.parametrize("sub,chroma,xy", [("4:4:4", "444", (0, 0)), ("4:2:0", "420", (1, 1))])
@pytest.mark.parametrize("rng", ["full", "limited"])
def test_avif_file_signals_recorded_colour(sub, chroma, xy, rng, tmp_path):
    adapter = adapter_or_skip("avif", subsampling=sub, range=rng)
    enc = adapter.encode(picture(65, 97), 60, tmp_path)
    sig = avif_signal(enc.path.read_bytes())
    assert sig["matrix"] == 6 and sig["bit_depth"] == 8 and sig["subsampling"] == xy
    assert sig["full_range"] == (rng == "full")
    col = adapter.colour()
    assert col["colour_matrix"] == "bt601" and col["colour_chroma"] == chroma and col["colour_range"] == rng
    assert adapter.decode(enc, tmp_path).rgb.shape == (65, 97, 3)


def test_webp_is_lossy_vp8_and_recorded_limited_range(tmp_path):
    adapter = adapter_or_skip("webp")
    enc = adapter.encode(picture(65, 97), 75, tmp_path)
    data = enc.path.read_bytes()
    assert data[12:16] == b"VP8 "
    assert adapter.colour() == {"colour_matrix": "bt601", "colour_range": "limited", "colour_chroma": "420",
                                "colour_bit_depth": 8, "colour_siting": "center"}


def test_unknown_parameters_and_bad_values_are_refused():
    with pytest.raises(BenchError):
        codecs.make("webp", quality=5)
    with pytest.raises(BenchError):
        codecs.make("avif", subsampling="4:1:1")
    with pytest.raises(BenchError):
        codecs.make("jpegxl", effort=12)


@pytest.mark.parametrize("conf", ["webp", "jpeg2000", "avif", "jpegxl", "hm_444_10bit", "vtm_420_10bit"])
def test_codec_yaml_builds_its_adapter(conf):
    cfg = yaml.safe_load((CONF / f"{conf}.yaml").read_text())
    assert cfg["name"] == conf and cfg["adapter"] in codecs.BUILTIN and cfg["points"]
    adapter = codecs.make(cfg["adapter"], **(cfg.get("params") or {}))
    assert set(adapter.colour()) >= {"colour_matrix", "colour_range", "colour_chroma", "colour_bit_depth"}
    assert adapter.point_name in {"quality", "ratio", "distance", "qp"}
