"""Classes 4 and 5 of issue 9: rate points and parameters.  Every adapter declares its points' type and
range, and every point and parameter is checked before any unit runs: a bad one is one `error:` line
and exit 2, never a point coded as another, a traceback, or a sweep of failed units."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import codecs
from bench.cli.sweep import run
from bench.core.errors import BenchError
from tests.edge_cases import jpeg_bytes, photo
from tests.helpers import ROOT, bench_cli, compose

# adapter (with parameters) -> (points it codes as labelled, points it must refuse)
POINTS = {
    ("x265", ()): ([0, 22, 51, 37.0], [-1, 52, 60, 22.5, 50.7, 3.5]),
    ("vvenc", ()): ([0, 32, 63], [-1, 64, 37.6]),
    ("jpeg", ()): ([1, 50, 100, 30.0], [0, 101, 50.7, 37.6, 3.5]),
    ("webp", ()): ([0, 100], [-1, 101, 37.6]),
    ("avif", ()): ([0, 100], [-1, 101, 3.5]),
    ("jpeg2000", ()): ([1, 1.5, 40], [0, 0.5, -3]),
    ("jpegxl", ()): ([0, 0.01, 1.5, 15], [-1, 0.005, 15.5, 25]),
    ("identity", ()): ([0, 7], [-1, 0.5]),
    ("hm", ()): ([-12, 0, 51], [-13, 52]),
    ("vtm", ()): ([-12, 63], [-13, 64]),
    ("compressai", (("weights", "zoo"),)): ([1, 8, 3.0], [0, 9, 2.5]),
    ("compressai", (("weights", "zoo"), ("arch", "cheng2020-anchor"))): ([1, 6], [7, 8]),
}
NOT_NUMBERS = ["abc", "", None, True, [22], float("nan"), float("inf")]


@pytest.mark.parametrize("adapter,params", list(POINTS), ids=[f"{a}{'-' + dict(p).get('arch', '') if p else ''}" for a, p in POINTS])
def test_each_adapter_codes_its_points_as_labelled_or_refuses_them(adapter, params):
    codec = codecs.make(adapter, **dict(params))
    good, bad = POINTS[(adapter, params)]
    for p in good:
        q = codec.check_point(p)
        assert q == p
        if codec.point_type is int or dict(params).get("weights") == "zoo":
            assert type(q) is int  # 37.0 is coded, labelled and keyed as 37
    for p in bad + NOT_NUMBERS:
        with pytest.raises(BenchError) as e:
            codec.check_point(p)
        assert "\n" not in str(e.value)


def test_the_declared_ranges_are_the_encoders_own(tmp_path, ffmpeg_with):
    """The edges are real: one step outside, the encoder itself refuses the point or codes another one."""
    ffmpeg_with("libx265")
    rgb = photo(64, 64)
    x265 = codecs.make("x265", preset="ultrafast")
    assert x265.encode(rgb, 51, tmp_path).path.stat().st_size > 0
    with pytest.raises(RuntimeError, match="QP exceeds supported range"):
        x265.encode(rgb, 52, tmp_path)
    vvenc = codecs.make("vvenc", preset="faster")
    assert vvenc.encode(rgb, 63, tmp_path).path.stat().st_size > 0
    with pytest.raises(RuntimeError, match="qp"):
        vvenc.encode(rgb, 64, tmp_path)
    # Pillow codes JPEG quality 0 as 1 and 101 as 100: the labels would lie
    assert jpeg_bytes(rgb, 0) == jpeg_bytes(rgb, 1) and jpeg_bytes(rgb, 101) == jpeg_bytes(rgb, 100)
    # libjxl codes a distance under 0.01 as 0.01
    jxl = codecs.make("jpegxl")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    assert jxl.encode(rgb, 0.005, tmp_path / "a").path.read_bytes() == jxl.encode(rgb, 0.01, tmp_path / "b").path.read_bytes()


def folder(tmp_path) -> Path:
    d = tmp_path / "img"
    d.mkdir(exist_ok=True)
    Image.fromarray(photo(32, 40)).save(d / "p.png")
    return d


def refused(tmp_path, overrides, match):
    """The sweep stops with one BenchError line before any unit ran (no row written)."""
    with pytest.raises(BenchError, match=match) as e:
        run(compose(["dataset=folder", f"dataset.root={folder(tmp_path)}", f"results_root={tmp_path / 'res'}", "sweep=t",
                     "workers=1", "plot=false", *overrides]))
    assert "\n" not in str(e.value)
    assert not list((tmp_path / "res").rglob("rows/*.json")), "a unit ran"
    return str(e.value)


@pytest.mark.parametrize("points,match", [
    ("[abc]", "must be a number, not 'abc'"),
    ("[50.7]", r"must be an integer, not 50\.7 \(it would be coded as 50\)"),
    ("[0]", r"quality 0 is out of range \[1, 100\]"),
    ("[101]", r"quality 101 is out of range \[1, 100\]"),
    ("[30,30.0]", "listed twice"),
    ("[]", "no rate points"),
])
def test_a_bad_point_stops_the_sweep_before_any_unit(tmp_path, points, match):
    refused(tmp_path, ["codec=jpeg", f"codec.points={points}"], match)


X265 = ["codec=x265_444_10bit", "codec.points=[32]", "codec.params.preset=ultrafast"]
PARAMETERS = {
    "chroma=422": (X265 + ["codec.params.chroma=422"], "chroma=422 bit_depth=10 is not supported here"),
    "matrix=foo": (X265 + ["codec.params.matrix=foo"], "unknown colour matrix 'foo'"),
    "bit_depth=12": (X265 + ["codec.params.bit_depth=12"], "bit_depth=12 is not supported here"),
    "x265 preset=nosuch": (X265 + ["codec.params.preset=nosuch"], "preset 'nosuch' unknown"),
    "x265 tune=nosuch": (X265 + ["codec.params.tune=nosuch"], "tune 'nosuch' unknown"),
    "x265 lossles=1": (X265 + ["+codec.params.x265_params.lossles=1"], "refuses this configuration: .*Unknown option: lossles"),
    "x265 rd=abc": (X265 + ["+codec.params.x265_params.rd=abc"], "refuses this configuration: Invalid value for rd: abc"),
    "x265 qp in x265_params": (X265 + ["+codec.params.x265_params.qp=20"], "x265_params may not set qp"),
    "vvenc preset=nosuch": (["codec=vvenc_420_10bit", "codec.params.preset=nosuch"], "preset 'nosuch' unknown"),
    "vvenc Foo=1": (["codec=vvenc_420_10bit", "codec.params.preset=faster", "+codec.params.vvenc_params.Foo=1"],
                    "refuses this configuration: Unknown vvenc option: Foo"),
    "threads=0": (["codec=jpeg", "threads=0"], "threads must be a positive integer, not 0"),
    "threads=abc": (["codec=jpeg", "threads=abc"], "threads must be a positive integer, not 'abc'"),
    "workers=abc": (["codec=jpeg", "workers=abc"], "workers must be a positive integer or auto, not 'abc'"),
    "workers=-1": (["codec=jpeg", "workers=-1"], "workers must be a positive integer or auto, not -1"),
    "workers=1.5": (["codec=jpeg", "workers=1.5"], "workers must be a positive integer or auto, not 1.5"),
    "metric_matrix=foo": (["codec=jpeg", "metric_matrix=foo"], "metric_matrix 'foo' unknown"),
    "metric_device=tpu": (["codec=jpeg", "metric_device=tpu"], "metric_device must be auto, cpu or cuda"),
    "unit_timeout=0": (["codec=jpeg", "unit_timeout=0"], "unit_timeout must be a number of seconds > 0"),
    "unit_timeout=abc": (["codec=jpeg", "unit_timeout=abc"], "unit_timeout must be a number of seconds > 0"),
    "unit_timeout=nan": (["codec=jpeg", "unit_timeout=nan"], "unit_timeout must be a number of seconds > 0"),
    "keep_bitstreams=abc": (["codec=jpeg", "keep_bitstreams=abc"], "keep_bitstreams must be true or false"),
    "plot=abc": (["codec=jpeg", "plot=abc"], "plot must be true or false"),
    "dataset.limit=abc": (["codec=jpeg", "dataset.limit=abc"], "dataset.limit must be a positive integer"),
    "dataset.limit=0": (["codec=jpeg", "dataset.limit=0"], "dataset.limit must be a positive integer"),
    "metrics=[psnr,nosuch]": (["codec=jpeg", "metrics=[psnr,nosuch]"], "unknown metric 'nosuch'"),
    "jpeg subsampling=7": (["codec=jpeg", "codec.params.subsampling=7"], "subsampling must be null"),
    "jpeg optimize=abc": (["codec=jpeg", "codec.params.optimize=abc"], "optimize must be true or false"),
    "webp method=9": (["codec=webp", "codec.params.method=9"], "method must be an integer in 0..6"),
    "avif speed=11": (["codec=avif", "codec.params.speed=11"], "speed must be an integer in 0..10"),
    "avif subsampling": (["codec=avif", "codec.params.subsampling=4:1:1"], "subsampling '4:1:1'"),
    "jpeg2000 mct=2": (["codec=jpeg2000", "codec.params.mct=2"], "mct must be 0 or 1"),
    "jpegxl effort=0": (["codec=jpegxl", "codec.params.effort=0"], "effort must be an integer in 1..9"),
    "compressai pad_mode": (["codec=demo_hyperprior", "codec.params.pad_mode=reflect"], "pad_mode must be constant or replicate"),
    "compressai device": (["codec=demo_hyperprior", "codec.params.device=tpu"], "device must be auto, cpu or cuda"),
    "unknown adapter parameter": (["codec=jpeg", "+codec.params.qualty=3"], r"unknown parameter\(s\) \['qualty'\]"),
}


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_a_bad_parameter_stops_the_sweep_before_any_unit(tmp_path, name):
    overrides, match = PARAMETERS[name]
    refused(tmp_path, overrides, match)


def test_x265_reads_its_log_on_every_encode_too():
    """Were an option to slip past the trial encode, the unit's own log check fails it: a misspelt
    option is never an ok lossy row."""
    x265 = codecs.make("x265")
    for log in ("[libx265 @ 0x55] Unknown option: lossles.\nframe I:      1, Avg QP:30.00",
                "x265 [error]: RD Level is out of range\nframe I:      1, Avg QP:30.00"):
        with pytest.raises(RuntimeError, match="x265 did not take its options"):
            x265._verify(log, 30)


def test_8_bit_x265_now_decodes(tmp_path, ffmpeg_with):
    ffmpeg_with("libx265")
    rgb = photo(64, 64)
    for chroma in ("444", "420"):
        x = codecs.make("x265", preset="ultrafast", bit_depth=8, chroma=chroma)
        with tempfile.TemporaryDirectory() as t:
            dec = x.decode(x.encode(rgb, 22, Path(t)), Path(t))
        assert dec.rgb.shape == rgb.shape and 10 * math.log10(255**2 / np.mean((dec.rgb - rgb.astype(float)) ** 2)) > 30


def test_bad_points_and_parameters_are_one_line_and_exit_2_on_the_command_line(tmp_path):
    d = folder(tmp_path)
    base = ["dataset=folder", f"dataset.root={d}", f"results_root={tmp_path / 'res'}", "sweep=t", "plot=false"]
    for extra in (["codec=jpeg", "codec.points=[abc]"], ["codec=jpeg", "codec.points=[101]"], ["codec=jpeg", "workers=abc"],
                  ["codec=x265_444_10bit", "codec.params.chroma=422"],
                  ["codec=x265_444_10bit", "codec.params.preset=ultrafast", "+codec.params.x265_params.lossles=1"]):
        proc = bench_cli(base + extra, ROOT)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("[")]
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (extra, proc.stderr[-1500:])
        assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "res").rglob("rows/*.json"))  # no unit ran (the run records are written)
