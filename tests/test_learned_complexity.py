"""Complexity of learned codecs: parameters and kMAC/px per part by two counters, the timing protocol
(warm-up, CUDA synchronisation mocked, network/entropy split), and the count cached per model and size."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("compressai", reason="compressai is not installed (pip install -e '.[learned]')")
pytest.importorskip("fvcore", reason="fvcore is not installed (pip install -e '.[test]')")
import torch  # noqa: E402

from bench import codecs  # noqa: E402
from bench.codecs.learned.complexity import Probe, columns, disagreements, parameter_counts  # noqa: E402
from bench.codecs.learned.models import init_model  # noqa: E402


def count(model, h, w, side="enc"):
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    p = Probe(model, count=True)
    out = p.run(lambda: model.compress(x))
    enc = p.counts()
    p = Probe(model, count=True)
    p.run(lambda: model.decompress(out["strings"], out["shape"]))
    return enc, p.counts()


def kmac(counts, counter, part, pixels):
    return sum(counts[counter].get(part, {}).values()) / pixels / 1e3


def test_reference_figures_factorized_768x512():
    """bmshj2018-factorized N=128, M=192 on a 768x512 picture: g_a 42.2 and g_s 42.2 kMAC/px by both
    counters; 3.00 M parameters (locally initialised weights)."""
    model = init_model("bmshj2018-factorized", 0, 128, 192)
    assert sum(parameter_counts(model).values()) == 2_998_147
    enc, dec = count(model, 512, 768)
    for counter in ("torch", "fvcore"):
        assert kmac(enc, counter, "g_a", 768 * 512) == pytest.approx(42.176, abs=5e-4)
        assert kmac(dec, counter, "g_s", 768 * 512) == pytest.approx(42.176, abs=5e-4)
    assert set(enc["torch"]) == {"g_a"} and set(dec["torch"]) == {"g_s"}  # nothing unattributed
    assert enc["notes"] == [] and disagreements(columns("enc", enc, 768 * 512)["kmac_ops_enc"]) == []


def test_reference_figures_hyperprior():
    """bmshj2018-hyperprior N=128, M=192: 5.08 M parameters; g_a/g_s 42.2 kMAC/px at any size divisible by 64
    (each layer's output is the input over a power of two: per pixel it does not depend on the size)."""
    model = init_model("bmshj2018-hyperprior", 0, 128, 192)
    params = parameter_counts(model)
    assert sum(params.values()) == 5_075_843 and round(sum(params.values()) / 1e6, 2) == 5.08
    assert set(params) == {"g_a", "g_s", "h_a", "h_s", "entropy_bottleneck"}
    enc, dec = count(model, 128, 192)
    px = 128 * 192
    for counter in ("torch", "fvcore"):
        assert kmac(enc, counter, "g_a", px) == pytest.approx(42.176, abs=5e-4)
        assert kmac(dec, counter, "g_s", px) == pytest.approx(42.176, abs=5e-4)
        # h_a: 3x3 M->N at 1/16, 5x5 N->N at 1/32 and 1/64 of the size; h_s mirrors it with deconvolutions
        assert kmac(enc, counter, "h_a", px) == pytest.approx((9 * 192 * 128 / 256 + 25 * 128 * 128 / 1024 + 25 * 128 * 128 / 4096) / 1e3)
        assert kmac(dec, counter, "h_s", px) == pytest.approx(kmac(enc, counter, "h_a", px))
    assert set(enc["torch"]) == {"g_a", "h_a", "h_s"} and set(dec["torch"]) == {"h_s", "g_s"}
    assert enc["torch"] == enc["fvcore"] and dec["torch"] == dec["fvcore"]


def test_autoregressive_context_model_is_counted_per_latent_position():
    """mbt2018: the decoder runs the 5x5 masked convolution (dense kernel) and the 1x1 entropy-parameter
    network once per latent position; both counters count exactly that, on both sides."""
    N, M, h, w = 8, 12, 64, 128
    model = init_model("mbt2018", 0, N, M)
    enc, dec = count(model, h, w)
    positions = (h // 16) * (w // 16)
    ctx = 25 * M * 2 * M * positions  # conv2d(M -> 2M, 5x5) on one position
    ep = (4 * M * (10 * M // 3) + (10 * M // 3) * (8 * M // 3) + (8 * M // 3) * 2 * M) * positions  # 1x1 convs
    for counts in (enc, dec):
        for counter in ("torch", "fvcore"):
            assert sum(counts[counter]["context_prediction"].values()) == ctx
            assert sum(counts[counter]["entropy_parameters"].values()) == ep
        assert counts["torch"] == counts["fvcore"]
    assert "g_a" in enc["torch"] and "g_s" in dec["torch"] and "g_s" not in enc["torch"]


def test_parts_of_variable_rate_and_attention_models():
    vbr = init_model("mbt2018-mean-vbr", 0, 8, 12)
    params = parameter_counts(vbr)
    assert {"Gain", "QuantABCD", "gayn2zqstep"} <= set(params) and params["Gain"] == 8
    assert sum(params.values()) == sum(p.numel() for p in vbr.parameters())
    cheng = init_model("cheng2020-attn", 0, 16)
    enc, dec = count(cheng, 64, 64)
    assert enc["torch"] == enc["fvcore"] and dec["torch"] == dec["fvcore"]
    assert {"g_a", "h_a", "h_s", "context_prediction", "entropy_parameters"} <= set(enc["torch"])


class Upsampled(torch.nn.Module):
    """A toy part with an op only one counter counts (fvcore counts upsampling, torch's counter does not)."""

    def __init__(self):
        super().__init__()
        self.g_a = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.g_s = torch.nn.Sequential(torch.nn.Upsample(scale_factor=2, mode="bilinear"), torch.nn.Conv2d(4, 3, 1))

    def compress(self, x):
        return self.g_a(x)

    def decompress(self, y):
        return self.g_s(y)


def test_counters_that_differ_are_flagged_with_the_op_types():
    m = Upsampled()
    p = Probe(m, count=True)
    y = p.run(lambda: m.compress(torch.rand(1, 3, 16, 16)))
    p = Probe(m, count=True)
    p.run(lambda: m.decompress(y))
    cols = columns("dec", p.counts(), 32 * 32)
    assert cols["kmac_dec_fvcore_g_s"] > cols["kmac_dec_torch_g_s"]
    flags = disagreements(cols["kmac_ops_dec"])
    assert [(part, fams) for part, _, _, fams in flags] == [("g_s", ["upsample_bilinear2d"]), ("total", ["upsample_bilinear2d"])]


def test_timing_split_and_cuda_synchronisation_mocked():
    """The timed call is bracketed by synchronize(device), and every network part too (CUDA mocked: the
    adapter believes its device is cuda; the tensors stay on the CPU)."""
    model = init_model("bmshj2018-hyperprior", 0, 8, 12)
    calls = []
    p = Probe(model, sync=lambda: calls.append("sync"))
    x = torch.rand(1, 3, 64, 64)
    p.run(lambda: model.compress(x))
    assert len(calls) == 2 * 3  # g_a, h_a, h_s: before and after each
    assert p.network_s > 0 and set(p.outputs) == {"g_a", "h_a", "h_s"}


def test_adapter_timing_protocol_with_cuda_mocked(monkeypatch, tmp_path, photo):
    import bench.codecs.learned.adapter as ad

    synced = []
    monkeypatch.setattr(ad, "synchronize", lambda device: synced.append(device))
    monkeypatch.setattr(ad, "_COUNTS", {})
    monkeypatch.setattr(ad, "_WARM", set())
    a = codecs.make("compressai", arch="bmshj2018-hyperprior", weights="init", N=8, M=12, device="cpu", warmup=2)
    model = a._model(1)
    ran = []
    real = model.compress
    monkeypatch.setattr(model, "compress", lambda x, **kw: ran.append(tuple(x.shape)) or real(x, **kw))
    a._device = "cuda"  # from here on the adapter believes it runs on CUDA
    a.params["device"] = "auto"
    assert a._decode_devices() == ["auto", "cpu"]  # a GPU encoder's bitstreams are decoded on the CPU too
    a.params["cross_device_decode"] = False
    assert a._decode_devices() == ["auto"]
    x = torch.rand(1, 3, 64, 128)
    probe, out, timing, counts = a._timed(model, lambda: model.compress(x), "enc", (64, 128))
    assert len(ran) == 3  # 2 untimed (the first counted), then the timed one
    assert synced[-2:] == ["cuda", "cuda"] and synced.count("cuda") >= 2 + 2 * 3
    probe, out, timing, counts2 = a._timed(model, lambda: model.compress(x), "enc", (64, 128))
    assert len(ran) == 4 and counts2 is counts  # warm now, and counted once per model shape and size
    assert probe.network_s <= timing.wall


def test_cuda_helpers_mocked(monkeypatch):
    from bench.core import device as dev

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.resolve_device("auto") == "cuda"
    done = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: done.append(1))
    dev.synchronize("cuda")
    dev.synchronize("cpu")
    assert done == [1]


def test_sweep_counts_once_per_model_and_size(tmp_path, monkeypatch):
    """Counting is cached per (model shape, coded size): two pictures of one coded size, two points of one
    shape: one count per side in the encoding process."""
    import bench.codecs.learned.adapter as ad
    import bench.codecs.learned.complexity as cx

    made = []
    real = cx.Probe.counts

    def counting(self):
        made.append(1)
        return real(self)

    monkeypatch.setattr(cx.Probe, "counts", counting)
    monkeypatch.setattr(ad, "_COUNTS", {})
    a = codecs.make("compressai", arch="bmshj2018-factorized", weights="init", N=8, M=12, device="cpu")
    rng = np.random.default_rng(0)
    for point in (1, 2):
        for size in ((60, 70), (64, 100)):  # both coded at 64x128
            img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            (tmp_path / f"{point}{size}").mkdir()
            enc = a.encode(img, point, tmp_path / f"{point}{size}")
            dec = a.decode(enc, tmp_path / f"{point}{size}")
            assert enc.extra["kmac_enc_torch"] == pytest.approx(enc.extra["kmac_enc_fvcore"])
            assert dec.extra["kmac_dec_torch_g_s"] > 0
    assert len(made) == 1  # points 1 and 2 share N/M (other seeds), both pictures are coded at 64x128
    ops = json.loads(enc.extra["kmac_ops_enc"])
    assert ops["torch"] == ops["fvcore"]
