"""The CompressAI adapter: real bytes, a decode in a fresh process that matches the encoder side, safe loading."""

from __future__ import annotations

import os
import pickle
import urllib.error
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("compressai", reason="compressai is not installed (pip install -e '.[learned]')")
import torch  # noqa: E402

from bench import codecs  # noqa: E402
from bench.core.errors import BenchError  # noqa: E402
from tests.helpers import compose, write_photos  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model written by the training entry point (3 steps: a pipeline check, not a codec)."""
    from hydra import compose as hcompose
    from hydra import initialize_config_dir

    from bench.core.assets import conf_dir
    from bench.training.train import train

    d = tmp_path_factory.mktemp("train")
    write_photos(d / "img", sizes=[(80, 96), (90, 100)])
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = hcompose("train", overrides=[f"data={d / 'img'}", "data_glob=*.png", "N=16", "M=24", "patch=64", "batch=2",
                                           "steps=3", "checkpoint_every=2", "threads=1", f"out={d / 'tiny.pth.tar'}"])
    return train(cfg)


def adapter_for(path, **kw):
    return codecs.make("compressai", weights="checkpoint", checkpoints={1: str(path)}, **kw)


@pytest.mark.parametrize("shape", [(64, 64), (67, 93), (20, 30)])
def test_round_trip_matches_encoder_side_and_counts_file_bytes(trained, tmp_path, photo, shape):
    img = photo(*shape)
    a = adapter_for(trained)
    enc = a.encode(img, 1, tmp_path)
    dec = a.decode(enc, tmp_path)
    assert dec.rgb.shape == img.shape
    assert {k: dec.extra[k] for k in ("decode_check", "decode_max_diff", "decode_check_cpu", "decode_max_diff_cpu")} == {
        "decode_check": True, "decode_max_diff": 0, "decode_check_cpu": True, "decode_max_diff_cpu": 0}
    assert dec.extra["decode_check_by_cpu"] == "latents" and dec.extra["decode_devices"] == "cpu"
    size = enc.path.stat().st_size
    assert size == enc.extra["payload_bytes"] + enc.extra["header_bytes"] and enc.extra["header_bytes"] < 32
    assert enc.extra["bpp_estimated"] > 0 and enc.extra["device"] == "cpu"


def test_latent_check_is_the_pixel_check(trained, tmp_path, photo):
    """Same latents, weights, device and threads: the decoder's picture is the encoder-side reconstruction,
    which the pixel check (the encoder computing g_s itself) confirms on the same bitstream."""
    img = photo(67, 93)
    lat, pix = adapter_for(trained), adapter_for(trained, decode_check="pixels")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    e1, e2 = lat.encode(img, 1, tmp_path / "a"), pix.encode(img, 1, tmp_path / "b")
    assert e1.path.read_bytes() == e2.path.read_bytes()
    d1, d2 = lat.decode(e1, tmp_path / "a"), pix.decode(e2, tmp_path / "b")
    assert (d1.extra["decode_check_by_cpu"], d2.extra["decode_check_by_cpu"]) == ("latents", "pixels")
    assert np.array_equal(np.load(e2.meta["encoder_recon"]), d1.rgb) and d2.extra["decode_max_diff"] == 0
    # and the encoder-side reconstruction is eval-mode forward()'s picture
    model = pix._model(1)
    x = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
    pad, unpad = pix._padding(*img.shape[:2])
    with torch.no_grad():
        fwd = model(torch.nn.functional.pad(x, pad))
    assert np.array_equal(pix._to_uint8(fwd["x_hat"], unpad), np.load(e2.meta["encoder_recon"]))
    bits = sum(float(-torch.log2(lk).sum()) for lk in fwd["likelihoods"].values())
    assert e2.extra["bpp_estimated"] == pytest.approx(bits / (img.shape[0] * img.shape[1]), rel=1e-9)


def test_decode_check_flags_a_different_picture(trained, tmp_path, photo):
    a = adapter_for(trained, decode_check="pixels")
    enc = a.encode(photo(64, 64), 1, tmp_path)
    ref = np.load(enc.meta["encoder_recon"])
    ref[0, 0, 0] ^= 7  # as if the decoder had drifted
    np.save(enc.meta["encoder_recon"], ref)
    ex = a.decode(enc, tmp_path).extra
    assert (ex["decode_check"], ex["decode_max_diff"], ex["decode_check_cpu"], ex["decode_max_diff_cpu"]) == (False, 7, False, 7)


def test_latents_that_differ_are_measured_in_pixels(trained, tmp_path, photo):
    a = adapter_for(trained)
    enc = a.encode(photo(64, 64), 1, tmp_path)
    y = np.load(enc.meta["encoder_latents"])
    y[0, 0, 0, 0] += 8.0  # as if the decoder had entropy-decoded another symbol
    np.save(enc.meta["encoder_latents"], y)
    enc.meta["latents_sha256"] = "0" * 64
    ex = a.decode(enc, tmp_path).extra
    assert ex["decode_check_by_cpu"] == "pixels" and ex["decode_check"] is False and ex["decode_max_diff"] > 0


def test_decoder_is_another_process_reading_only_the_file(trained, tmp_path, photo):
    from bench.codecs.learned.decoder import decoder_for

    a = adapter_for(trained)
    enc = a.encode(photo(64, 64), 1, tmp_path)
    b = adapter_for(trained)  # never loads weights here: the decode happens in the decoder process
    assert b.decode(enc, tmp_path).extra["decode_check"] is True and b._models == {}
    proc = decoder_for("auto", 1)
    assert proc.alive() and proc.proc.pid != os.getpid()
    data = enc.path.read_bytes()
    enc.path.write_bytes(data[:-3])  # the decoder reads the file as it is now
    with pytest.raises(RuntimeError, match="decoder process"):
        a.decode(enc, tmp_path)
    assert decoder_for("auto", 1).proc.pid == proc.proc.pid  # one failed decode does not end the process


def test_bitstream_is_self_describing(trained, tmp_path, photo):
    from bench.codecs.learned.container import unpack

    a = adapter_for(trained)
    enc = a.encode(photo(67, 93), 1, tmp_path)
    strings, shape, h, w = unpack(enc.path.read_bytes())
    assert (h, w) == (67, 93) and len(strings) == 2  # hyperprior: y and z strings
    # a decoder in another process/adapter instance needs only the file and the point
    b = adapter_for(trained)
    assert np.array_equal(b.decode(enc, tmp_path).rgb, a.decode(enc, tmp_path).rgb)


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "net", "trainer", "no_cdf"])
def test_checkpoint_layouts_load(trained, tmp_path, photo, wrap):
    state = torch.load(trained, weights_only=True)["state_dict"]
    if wrap == "no_cdf":
        obj = {k: v for k, v in state.items() if not k.endswith(("_quantized_cdf", "_offset", "_cdf_length"))}
    else:
        obj = {"plain": state, "state_dict": {"state_dict": state}, "net": {"net": state},
               "trainer": {"epoch": 7, "state_dict": {f"module.{k}": v for k, v in state.items()}, "loss": 1.0}}[wrap]
    p = tmp_path / f"{wrap}.pth.tar"
    torch.save(obj, p)
    a = adapter_for(p)
    enc = a.encode(photo(64, 64), 1, tmp_path)
    assert a.decode(enc, tmp_path).extra["decode_check"] is True


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_weights_only_refuses_a_pickle_that_runs_code(tmp_path, photo):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {"x": _Evil(str(marker))}}, p)
    a = adapter_for(p)
    with pytest.raises(BenchError, match="refusing checkpoint"):
        a.encode(photo(64, 64), 1, tmp_path)
    assert not marker.exists()


def test_corrupt_checkpoint_is_one_clear_error(tmp_path, photo):
    p = tmp_path / "broken.pth.tar"
    p.write_bytes(b"\x00" * 100)
    with pytest.raises(BenchError, match="cannot read checkpoint"):
        adapter_for(p).encode(photo(64, 64), 1, tmp_path)


def test_offline_zoo_error_names_file_and_directory(tmp_path, photo, monkeypatch):
    import compressai.zoo.image as zi

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(zi, "load_state_dict_from_url", offline)
    a = codecs.make("compressai", arch="bmshj2018-factorized", weights="zoo", metric="mse")
    with pytest.raises(BenchError) as e:
        a.encode(photo(64, 64), 3, tmp_path)
    msg = str(e.value)
    assert "bmshj2018-factorized-prior-3-5c6f152b.pth.tar" in msg and str(tmp_path / "torch" / "hub" / "checkpoints") in msg


def test_zoo_lambda_recorded(tmp_path):
    a = codecs.make("compressai", arch="cheng2020-anchor", weights="zoo", metric="ms-ssim")
    assert a.lmbda(4) == 16.64
    assert codecs.make("compressai", weights="zoo").lmbda(5) == 0.0250


def test_sweep_rows_carry_learned_columns(trained, tmp_path):
    from bench.cli.sweep import run
    import pandas as pd

    photos = write_photos(tmp_path / "img")
    run(compose(["dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", "codec=compressai_checkpoint",
                 f"+codec.params.checkpoints={{1: {trained}}}", "codec.points=[1]", f"results_root={tmp_path}", "sweep=s",
                 "workers=1", "plot=false"]))
    df = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert (df.status == "ok").all(), df.error.tolist()
    assert df.decode_check.all() and df.decode_check_cpu.all() and (df.bytes == df.payload_bytes + df.header_bytes).all()
    assert {"bpp_estimated", "lambda", "device", "pad_mode", "decode_devices", "torch_threads", "timing_warmup", "coded_width",
            "encode_network_s", "encode_entropy_s", "decode_network_s", "decode_entropy_s", "params", "params_g_a",
            "kmac_enc_torch", "kmac_enc_fvcore", "kmac_dec_torch_g_s", "kmac_dec_fvcore_g_s", "kmac_ops_enc"} <= set(df.columns)
    assert np.allclose(df.encode_network_s + df.encode_entropy_s, df.encode_s)
    assert np.allclose(df.kmac_enc_torch, df.kmac_enc_fvcore) and (df.kmac_dec_torch > 0).all()


def test_trained_file_keeps_buffers_exact_and_parameters_small(trained):
    """Float16 is for learned parameters only: buffers such as the 1e-9 likelihood bound underflow
    in float16 (likelihood 0 = infinite bits), so they must stay as built."""
    from bench.codecs.learned.models import build

    state = torch.load(trained, weights_only=True)["state_dict"]
    fresh = build("bmshj2018-hyperprior", 16, 24)
    assert state["g_a.0.weight"].dtype == torch.float16
    for k, v in fresh.state_dict().items():
        if v.is_floating_point() and k not in dict(fresh.named_parameters()) and not k.endswith("scale_table"):
            assert v.dtype == state[k].dtype and torch.equal(v, state[k]), k


def test_decoder_process_leaves_when_idle_or_orphaned():
    from bench.codecs.learned.decoder import DecoderProcess, _lines

    r, w = os.pipe()
    os.write(w, b"first\nsecond\nthird")
    assert list(_lines(r, 0.2)) == [b"first", b"second"]  # then nothing for 0.2 s: it stops (the idle exit)
    os.close(w)
    os.close(r)
    r, w = os.pipe()
    os.write(w, b"one\ntwo\n")
    os.close(w)
    assert list(_lines(r, 60)) == [b"one", b"two"]  # end of input: it stops at once
    os.close(r)
    e = DecoderProcess("cpu", 1)
    e.proc.stdin.close()  # as when the process that started it ends: it exits
    assert e.proc.wait(timeout=120) == 0
    e.close()


def test_gpu_bitstreams_are_decoded_on_the_cpu_too_cuda_mocked(trained, tmp_path, photo, monkeypatch):
    """CUDA mocked: the adapter believes its encoder runs on CUDA (the tensors stay on the CPU); the
    decoder processes are stand-ins that decode here and say which device they were.  The bitstream goes
    to the encoder's device first, then (after that reply) to the CPU; both are compared in pixels; the
    timed calls are bracketed by synchronize('cuda')."""
    import bench.codecs.learned.adapter as ad
    import bench.codecs.learned.decoder as dm

    synced = []
    monkeypatch.setattr(ad, "synchronize", lambda device: synced.append(device))
    log = []

    class Standin:
        def __init__(self, device):
            self.device, self.requests = device, {}
            self.decoder = adapter_for(trained, device="cpu")

        def submit(self, request):
            log.append(("submit", self.device))
            self.requests[len(self.requests) + 1] = request
            return len(self.requests)

        def reply(self, rid):
            log.append(("reply", self.device))
            r = self.requests.pop(rid)
            out = self.decoder.decode_here(Path(r["path"]), r["point"], Path(r["out"]), r["sha256"])
            return {**out, "device": "cuda" if self.device == "auto" else self.device}

    standins = {}
    monkeypatch.setattr(dm, "decoder_for", lambda device, threads: standins.setdefault(device, Standin(device)))
    a = adapter_for(trained, device="cpu")
    a._model(1)
    a._device, a.params["device"] = "cuda", "auto"
    enc = a.encode(photo(64, 64), 1, tmp_path)
    assert enc.extra["timing_sync"] == "torch.cuda.synchronize" and enc.extra["device"] == "cuda"
    assert "encoder_recon" in enc.meta  # another device decodes too: the encoder side keeps its picture
    assert len(synced) >= 2 and set(synced) == {"cuda"}  # (the stand-in decoders below sync their own devices)
    ex = a.decode(enc, tmp_path).extra
    assert log == [("submit", "auto"), ("reply", "auto"), ("submit", "cpu"), ("reply", "cpu")]
    assert ex["decode_devices"] == "cuda,cpu" and ex["decode_check_cuda"] is True and ex["decode_check_cpu"] is True
    assert ex["decode_check_by_cuda"] == ex["decode_check_by_cpu"] == "pixels" and ex["decode_s_cpu"] > 0
