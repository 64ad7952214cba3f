"""CompressAI's variable-rate models: the quantisation step as a continuous rate point carried in the
bitstream, locally initialised and checkpoint weights, the zoo's offline message, and the codec config."""

from __future__ import annotations

import struct
import urllib.error

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("compressai", reason="compressai is not installed (pip install -e '.[learned]')")
import torch  # noqa: E402

from bench import codecs  # noqa: E402
from bench.codecs.learned.container import MAGIC_RATE, float32, pack, read  # noqa: E402
from bench.core.errors import BenchError  # noqa: E402
from tests.helpers import compose, write_photos  # noqa: E402


def vbr(**kw):
    return codecs.make("compressai_vbr", **{"arch": "bmshj2018-hyperprior-vbr", "weights": "init", "N": 8, "M": 12, "device": "cpu", **kw})


@pytest.fixture(scope="module")
def sensitive(tmp_path_factory):
    """A locally initialised vbr model whose latents are large (g_a's last layer scaled), saved as a
    checkpoint: with untrained weights the latents are tiny and every step quantises them to zero."""
    from bench.codecs.learned.models import init_model

    model = init_model("mbt2018-mean-vbr", 0, 8, 12)
    with torch.no_grad():
        model.g_a[-1].weight.mul_(40.0)
    path = tmp_path_factory.mktemp("vbr") / "vbr.pth.tar"
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def test_container_carries_the_rate_as_float32():
    data = pack([b"ab", b"c"], (4, 6), 60, 90, rate=2.7)
    assert data[:4] == MAGIC_RATE and struct.unpack(">f", data[12:16])[0] == float32(2.7)
    b = read(data)
    assert (b.strings, b.latent_hw, b.height, b.width, b.rate) == ([b"ab", b"c"], (4, 6), 60, 90, float32(2.7))
    assert read(pack([b"x"], (1, 1), 2, 3)).rate is None and len(pack([b"x"], (1, 1), 2, 3)) == 12 + 1 + 1 + 1


def test_continuous_rate_points_round_trip_in_a_fresh_process(tmp_path, photo, sensitive):
    a = vbr(arch="mbt2018-mean-vbr", weights="checkpoint", checkpoint=str(sensitive))
    img = photo(64, 96)
    sizes = []
    for step in (1.0, 2.37, 6.5, 10.0):
        d = tmp_path / f"s{step}"
        d.mkdir()
        enc = a.encode(img, a.check_point(step), d)
        assert read(enc.path.read_bytes()).rate == float32(step) and enc.extra["rate_quant_step"] == float32(step)
        dec = a.decode(enc, d)
        assert dec.extra["decode_check"] is True and dec.extra["decode_check_by_cpu"] == "pixels"
        sizes.append(enc.path.stat().st_size)
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 2 * sizes[-1]  # a larger step, fewer bits


def test_the_decoder_takes_the_rate_from_the_file(tmp_path, photo, sensitive):
    a = vbr(arch="mbt2018-mean-vbr", weights="checkpoint", checkpoint=str(sensitive))
    enc = a.encode(photo(64, 64), 3.0, tmp_path)
    first = a.decode(enc, tmp_path).rgb
    enc.meta["point"] = 9.0  # what the harness passes along does not change the decode
    assert np.array_equal(a.decode(enc, tmp_path).rgb, first)


def test_rate_points_are_checked_before_coding():
    a = vbr()
    assert a.check_point(2.5) == 2.5 and a.point_name == "quant_step"
    for bad in (0.5, 11, float("nan"), "3"):
        with pytest.raises(BenchError):
            a.check_point(bad)
    with pytest.raises(BenchError, match="variable-rate model: use codec=compressai_vbr"):
        codecs.make("compressai", arch="mbt2018-vbr", weights="init")
    with pytest.raises(BenchError, match="not a variable-rate model"):
        vbr(arch="bmshj2018-hyperprior")
    with pytest.raises(BenchError, match="unknown parameter"):
        vbr(checkpoints={1: "x"})


def test_offline_vbr_zoo_gives_the_zoo_message(tmp_path, photo, monkeypatch):
    import compressai.zoo.image_vbr as zv

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(zv, "load_state_dict_from_url", offline)
    a = codecs.make("compressai_vbr", arch="mbt2018-vbr", weights="zoo", device="cpu")
    with pytest.raises(BenchError) as e:
        a.encode(photo(64, 64), 2.0, tmp_path)
    msg = str(e.value)
    assert "mbt2018-mse-vbr-f12581a1.pth.tar are not cached" in msg and str(tmp_path / "torch" / "hub" / "checkpoints") in msg
    with pytest.raises(BenchError, match="no bmshj2018-hyperprior-vbr weights for metric 'ms-ssim'"):
        codecs.make("compressai_vbr", metric="ms-ssim").check()


def test_vbr_codec_config_sweeps_any_points(tmp_path):
    from bench.cli.sweep import run

    photos = write_photos(tmp_path / "img", sizes=[(64, 96)])
    run(compose(["dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", "codec=compressai_vbr",
                 "codec.params.weights=init", "codec.params.N=8", "codec.params.M=12", "codec.params.device=cpu",
                 "codec.points=[1.25,4,8.5]", f"results_root={tmp_path}", "sweep=s", "workers=1", "plot=false"]))
    df = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert (df.status == "ok").all(), df.error.tolist()
    assert sorted(df.point) == [1.25, 4, 8.5] and set(df.codec) == {"vbr_bmshj2018-hyperprior-vbr_init"}
    assert df.decode_check.all() and (df.point_name == "quant_step").all()
    assert (df.params_QuantABCD > 0).all() and (df.kmac_dec_torch_QuantABCD > 0).all()
    assert np.allclose(df.kmac_dec_torch, df.kmac_dec_fvcore)
