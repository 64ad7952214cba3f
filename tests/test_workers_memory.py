"""workers=auto never starts more workers than the free memory allows for the largest picture.  The
measured peaks behind the estimate are `bench perf memory`."""

from __future__ import annotations

import numpy as np
from PIL import Image

from bench.sweep import memory
from bench.sweep.runner import auto_workers


def test_pixels_come_from_headers_and_broken_files_count_zero(tmp_path):
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not a picture")
    assert memory.picture_pixels([tmp_path / "a.png", tmp_path / "b.png"]) == [48 * 64, 0]


def test_the_estimate_adds_codec_metrics_and_kept_pictures():
    per = memory.estimate("x265", ["psnr", "ms_ssim"], 1000, cached_pixels=500)
    assert per == memory.BASE_BYTES + 1000 * (memory.CODEC_BYTES_PER_PIXEL["x265"] + memory.METRIC_BYTES_PER_PIXEL["ms_ssim"]) + 1500
    assert memory.bytes_per_pixel("mylab.codecs:MyCodec", ["mylab.metrics:mae"]) == (
        memory.UNKNOWN_CODEC_BYTES_PER_PIXEL + memory.UNKNOWN_METRIC_BYTES_PER_PIXEL)
    assert memory.bytes_per_pixel("bench.codecs.jpeg:JPEG", []) == memory.CODEC_BYTES_PER_PIXEL["jpeg"]
    assert memory.bytes_per_pixel("jpeg", ["lpips"]) > 10 * memory.bytes_per_pixel("jpeg", ["psnr", "ms_ssim"])


def test_auto_workers_is_bounded_by_memory_for_the_largest_picture(monkeypatch):
    monkeypatch.setattr(memory, "cores", lambda: 8)
    monkeypatch.setattr(memory, "worker_budget", lambda: 16 << 30)
    sizes = {"small.png": 768 * 512, "huge.png": 12000 * 8000}
    monkeypatch.setattr(memory, "picture_pixels", lambda paths: [sizes[p] for p in paths])
    said = []
    assert auto_workers("auto", 1, adapter="jpeg", metrics=["psnr", "ms_ssim"], pictures=["small.png"]) == 8
    n = auto_workers("auto", 1, adapter="x265", metrics=["psnr", "ms_ssim"], pictures=["small.png", "huge.png"], log=said.append)
    per = memory.estimate("x265", ["psnr", "ms_ssim"], sizes["huge.png"], sizes["small.png"])
    assert n == int(memory.MEMORY_SHARE * (16 << 30) // per) and 1 <= n < 8
    assert said and "instead of 8" in said[0] and "GB per worker" in said[0]
    assert auto_workers("auto", 1, adapter="compressai", metrics=["lpips"], pictures=["huge.png"]) == 1  # never 0
    assert auto_workers("auto", 2, adapter="jpeg", metrics=["psnr"], pictures=["small.png"]) == 4  # cores // threads
    assert auto_workers(3, 1, adapter="x265", pictures=["huge.png"]) == 3  # a number is taken as given


def test_the_budget_reads_this_machine():
    assert memory.worker_budget() > 0
    avail = memory._meminfo("MemAvailable")
    assert avail is None or memory.worker_budget() <= avail
