"""The metric registry: declarations, the historical default columns, batching, lazy heavy imports,
device choice, and resumability when a sweep asks for a metric its rows lack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import metrics
from bench.core.errors import BenchError
from bench.cli.sweep import run
from bench.results.store import RowStore
from tests.conftest import natural_crop
from tests.helpers import ROOT, compose, write_photos

HISTORICAL = ["psnr_rgb", "psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "ms_ssim_rgb", "ms_ssim_rgb_db", "ms_ssim_win", "metric_matrix"]


def noisy(rgb, amp=12, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(rgb.astype(int) + rng.integers(-amp, amp + 1, rgb.shape), 0, 255).astype(np.uint8)


def test_every_column_declares_direction_unit_range_colour_space_and_db_form():
    need = {"higher_is_better", "unit", "range", "input_range", "colour_space", "db", "kind", "label", "metric"}
    for col, info in metrics.METRICS.items():
        assert need <= set(info), col
        assert info["metric"] in metrics.REGISTRY
    assert metrics.METRICS["psnr_rgb"]["higher_is_better"] and metrics.METRICS["psnr_rgb"]["unit"] == "dB"
    for col in ("lpips_alex", "lpips_vgg", "dists", "flip"):
        assert metrics.METRICS[col]["higher_is_better"] is False and metrics.METRICS[col]["kind"] == "perceptual"
    assert metrics.METRICS["vmaf"]["higher_is_better"] and metrics.METRICS["vmaf"]["range"] == [0.0, 100.0]
    assert metrics.METRICS["ms_ssim_rgb"]["db"] == "ms_ssim_rgb_db"
    assert metrics.METRICS["lpips_alex"]["input_range"] == "float RGB [-1, 1]"
    assert metrics.columns(["lpips", "dists"]) == ["lpips_alex", "dists"]


def test_default_compute_keeps_the_historical_columns_and_values(photo):
    ref = photo(200, 240)
    dec = noisy(ref)
    out = metrics.compute(ref, dec)
    assert list(out) == HISTORICAL
    assert out["metric_matrix"] == "bt709" and out["ms_ssim_win"] == 11 and isinstance(out["ms_ssim_win"], int)
    d = ref.astype(float) - dec.astype(float)
    assert out["psnr_rgb"] == pytest.approx(10 * np.log10(255**2 / np.mean(d * d)), abs=1e-12)
    assert out["psnr_yuv"] == pytest.approx((6 * out["psnr_y"] + out["psnr_u"] + out["psnr_v"]) / 8)
    assert out["ms_ssim_rgb_db"] == pytest.approx(-10 * np.log10(1 - out["ms_ssim_rgb"]))
    assert 0.5 < out["ms_ssim_rgb"] < 1
    assert metrics.to_db(1.0) == float("inf") and metrics.ms_ssim_win(100, 500) < 11


def test_batch_equals_one_picture_at_a_time():
    refs = np.stack([natural_crop(176, 192, n) for n in ("astronaut", "coffee", "chelsea")])
    decs = np.stack([noisy(r, 8 + 6 * i, i) for i, r in enumerate(refs)])
    batch = metrics.compute_batch(refs, decs, names=["psnr", "ms_ssim", "flip"])
    for i in range(3):
        one = metrics.compute(refs[i], decs[i], names=["psnr", "ms_ssim", "flip"])
        for col in ("psnr_rgb", "psnr_y", "ms_ssim_rgb", "flip"):
            assert batch[col][i] == pytest.approx(one[col], rel=1e-6, abs=1e-7), col
    assert len(set(np.round(batch["psnr_rgb"], 6))) == 3  # three different pictures, three values


def test_unknown_metric_is_one_clear_error():
    with pytest.raises(BenchError, match="unknown metric 'lpipz'.*lpips"):
        metrics.resolve(["psnr", "lpipz"])
    with pytest.raises(BenchError, match="empty"):
        metrics.resolve([])
    assert metrics.resolve(["psnr", "psnr", "flip"]) == ("psnr", "flip")


def test_heavy_dependencies_load_only_when_their_metric_is_chosen():
    code = ("import sys, numpy as np; from bench import metrics; from bench.results import store, tables; from bench.sweep import units; "
            "a = np.zeros((32, 32, 3), np.uint8); metrics.compute(a, a + 1, names=['psnr']); "
            "print(sorted(m for m in ('torch', 'lpips', 'DISTS_pytorch', 'flip_evaluator', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code2 = ("import sys, numpy as np; from bench import metrics; a = np.zeros((32, 32, 3), np.uint8); "
             "metrics.compute(a, a + 1, names=['flip']); print('flip_evaluator' in sys.modules, 'lpips' in sys.modules)")
    out2 = subprocess.run([sys.executable, "-c", code2], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out2.strip() == "True False"


def test_device_auto_is_cuda_only_when_present():
    import torch

    from bench.core.device import resolve_device

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(BenchError, match="auto, cpu or cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(BenchError, match="no CUDA"):
            resolve_device("cuda")


def test_store_done_requires_the_chosen_metric_columns(tmp_path):
    store = RowStore(tmp_path)
    base = {"dataset": "d", "image": "i", "codec": "c", "point": 1, "bytes": 10, "bpp": 0.5}
    store.write({**base, "key": "k", "status": "ok", "psnr_rgb": 30.0})
    assert store.done("k") and store.done("k", ["psnr_rgb"])
    assert not store.done("k", ["psnr_rgb", "lpips_alex"])
    store.write({**base, "key": "f", "status": "failed", "psnr_rgb": 30.0})
    assert not store.done("f", ["psnr_rgb"])


def _sweep(tmp_path, photos, names, extra=()):
    return compose([f"dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", "codec=jpeg", "codec.points=[30,80]",
                    f"results_root={tmp_path / 'results'}", "sweep=t", "workers=1", "plot=false", f"metrics=[{','.join(names)}]",
                    *extra])


def test_a_new_metric_is_added_from_kept_bitstreams_without_encoding_again(tmp_path):
    photos = write_photos(tmp_path / "img")
    first = run(_sweep(tmp_path, photos, ["psnr"]))
    assert first["rows"] == 4 and first["failed"] == 0
    rows_dir = tmp_path / "results/t/rows"
    before = {p.name: json.loads(p.read_text()) for p in rows_dir.glob("*.json")}
    assert all("flip" not in r and "ms_ssim_rgb" not in r for r in before.values())
    bitstreams = {r["key"]: (tmp_path / "results/t" / r["bitstream"]) for r in before.values()}
    mtimes = {k: p.stat().st_mtime_ns for k, p in bitstreams.items()}

    second = run(_sweep(tmp_path, photos, ["psnr", "flip"]))
    assert second["rows"] == 4 and second["failed"] == 0
    for p in rows_dir.glob("*.json"):
        old, new = before[p.name], json.loads(p.read_text())
        assert new["timestamp"] == old["timestamp"] and new["encode_s"] == old["encode_s"]  # not encoded again
        assert new["bytes"] == old["bytes"] and new["psnr_rgb"] == old["psnr_rgb"]
        assert "flip" in new and new["metrics_added"].startswith("flip at ") and new["metric_names"] == "psnr,flip"
        assert bitstreams[new["key"]].stat().st_mtime_ns == mtimes[new["key"]]
    # the added value is the metric of the decoded picture
    r = next(json.loads(p.read_text()) for p in rows_dir.glob("*.json"))
    from PIL import Image

    from bench.data.images import load_rgb

    dec = np.asarray(Image.open(tmp_path / "results/t" / r["bitstream"]).convert("RGB"))
    ref = load_rgb(photos / f"{r['image']}.png")
    assert r["flip"] == pytest.approx(metrics.compute(ref, dec, names=["flip"])["flip"], abs=1e-7)
    # third run: everything there, nothing to do
    assert run(_sweep(tmp_path, photos, ["flip", "psnr"]))["rows"] == 0


def test_without_a_usable_bitstream_the_unit_is_redone(tmp_path):
    photos = write_photos(tmp_path / "img")
    run(_sweep(tmp_path, photos, ["psnr"], ["keep_bitstreams=false"]))
    rows_dir = tmp_path / "results/t/rows"
    before = {p.name: json.loads(p.read_text()) for p in rows_dir.glob("*.json")}
    assert all(r["bitstream"] == "" for r in before.values())
    assert run(_sweep(tmp_path, photos, ["psnr", "flip"], ["keep_bitstreams=false"]))["rows"] == 4
    for p in rows_dir.glob("*.json"):
        new = json.loads(p.read_text())
        assert "flip" in new and "metrics_added" not in new  # a full unit, not a remeasure

    # a kept bitstream that changed on disk is not trusted: the unit is redone and says why
    run(_sweep(tmp_path / "b", photos, ["psnr"]))
    rows_b = tmp_path / "b/results/t/rows"
    victim = json.loads(next(rows_b.glob("*.json")).read_text())
    f = tmp_path / "b/results/t" / victim["bitstream"]
    f.write_bytes(f.read_bytes() + b"\0")
    assert run(_sweep(tmp_path / "b", photos, ["psnr", "flip"]))["failed"] == 0
    redone = json.loads((rows_b / f"{victim['key']}.json").read_text())
    assert "remeasure failed" in redone["remeasure_note"] and "metrics_added" not in redone and "flip" in redone
    df = pd.read_parquet(tmp_path / "b/results/t/results.parquet")
    assert df["flip"].notna().all() and len(df) == 4
