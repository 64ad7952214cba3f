"""bench.data.images keeps the originals a worker read, bounded by count and by bytes (the newest always)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.data import images
from bench.sweep import memory


@pytest.fixture
def pictures(tmp_path, monkeypatch):
    """Four 100x100 PNGs (30,000 bytes each as originals), a bound of 2.5 of them, a clean cache."""
    paths = []
    for i in range(4):
        p = tmp_path / f"p{i}.png"
        Image.fromarray(np.full((100, 100, 3), 40 * i, np.uint8)).save(p)
        paths.append(str(p))
    monkeypatch.setattr(images, "CACHE_BYTES", 75_000)
    images.load_original.cache_clear()
    yield paths
    images.load_original.cache_clear()


def test_the_cache_is_bounded_by_bytes_least_recently_used_first(pictures):
    a, b, c, d = pictures
    first = images.load_original(a)
    assert images.load_original(a) is first  # the next rate point of the same picture: not read again
    images.load_original(b)
    images.load_original(a)  # a is now the most recently used
    images.load_original(c)  # 90,000 bytes > 75,000: b (least recently used) goes
    info = images.load_original.cache_info()
    assert info == {"hits": 2, "misses": 3, "pictures": 2, "bytes": 60_000}
    assert images.load_original(a) is first and images.load_original.cache_info()["misses"] == 3
    images.load_original(b)
    assert images.load_original.cache_info()["misses"] == 4  # b was read again
    assert images.load_original.cache_info()["bytes"] <= images.CACHE_BYTES


def test_a_picture_above_the_bound_is_still_kept_alone(pictures, monkeypatch):
    monkeypatch.setattr(images, "CACHE_BYTES", 10_000)  # smaller than one picture
    a, b = pictures[:2]
    x = images.load_original(a)
    assert images.load_original(a) is x  # kept: its next rate point reads it from memory
    images.load_original(b)
    assert images.load_original.cache_info() == {"hits": 1, "misses": 2, "pictures": 1, "bytes": 30_000}


def test_the_count_bound_still_holds_and_failures_are_not_cached(pictures, monkeypatch, tmp_path):
    monkeypatch.setattr(images, "CACHE_PICTURES", 2)
    monkeypatch.setattr(images, "CACHE_BYTES", 1 << 30)
    for p in pictures:
        images.load_original(p)
    assert images.load_original.cache_info()["pictures"] == 2
    missing = str(tmp_path / "nope.png")
    for _ in range(2):
        with pytest.raises(images.BenchError, match="not found"):
            images.load_original(missing)
    assert images.load_original.cache_info()["pictures"] == 2


def test_the_worker_estimate_counts_at_most_the_byte_bound(monkeypatch):
    px = 12000 * 8000
    monkeypatch.setattr(memory, "picture_pixels", lambda paths: [px] * len(list(paths)))
    _, per = memory.memory_workers("jpeg", ["psnr"], [f"p{i}.png" for i in range(5)])
    assert per == memory.estimate("jpeg", ["psnr"], px, memory.IMAGE_CACHE_BYTES // 3)
    assert per - memory.estimate("jpeg", ["psnr"], px) <= memory.IMAGE_CACHE_BYTES  # not 4 more pictures of 288 MB
