"""How many workers the memory allows (`workers=auto`), and how a worker's memory is estimated.

A worker's peak while it measures one unit is, for the codecs and metrics measured here, its imports
plus a number of bytes per pixel of the picture (bench perf memory measures both, on 12000x8000):

    per worker = BASE_BYTES
               + largest picture of the dataset (pixels, read from the file headers)
                 x (the codec's bytes per pixel, its encoder/decoder process included
                    + the sum of the chosen metrics' bytes per pixel)
               + the decoded pictures a worker keeps for the next rate points (bench.data.images
                 caches up to IMAGE_CACHE of them and IMAGE_CACHE_BYTES in all, beside the newest one:
                 the largest ones, 3 bytes per pixel each)
               + with metric_batch, the other decoded pictures of one batched call of the deep metrics
                 (bench.sweep.batch: up to CHUNK_PIXELS, never more than the job's points) x half the deep
                 metrics' bytes per pixel (the reference's features are computed once per batch; DISTS
                 on 4 Kodak pictures at once measured +1.4 GB over one, 1,170 B/px of the 3,000)

    workers = min(cores // threads, floor(MEMORY_SHARE x available / per worker)), at least 1

where `available` is MemAvailable (/proc/meminfo), capped by the cgroup's limit minus its usage when
the process runs in one.  An adapter or metric not listed gets the conservative UNKNOWN_* figure.  The
figures are peaks measured with margin, not averages: a worker rarely holds its peak, but two workers
at their peak at once must still fit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from bench.data.images import CACHE_BYTES, CACHE_PICTURES

MEMORY_SHARE = 0.8  # of the available memory the workers may take together
BASE_BYTES = 900 << 20  # a worker's imports (numpy, Pillow, torch for MS-SSIM: 0.8 GB measured) and interpreter
IMAGE_CACHE = CACHE_PICTURES  # bench.data.images.load_original keeps this many decoded pictures per process,
IMAGE_CACHE_BYTES = CACHE_BYTES  # and this many bytes of them beside the newest

# Peak bytes per pixel of the unit's work above the imports, with ~25 % margin over `bench perf memory`
# (12000x8000, quiet machine): the original and decoded pictures, the codec's buffers, and its encoder
# or decoder process when there is one (x265's own process dominates the ffmpeg codecs).
CODEC_BYTES_PER_PIXEL = {
    "identity": 12, "jpeg": 20, "webp": 24, "avif": 40, "jpeg2000": 40, "jpegxl": 40,
    "x265": 60, "vvenc": 80, "hm": 80, "vtm": 120, "reference_software": 120,
    "compressai": 2000,  # learned codecs: activations of the analysis/synthesis transforms at full size
}
METRIC_BYTES_PER_PIXEL = {
    "psnr": 0,  # chunked: constant memory
    "ms_ssim": 12,  # the two pyramids in float32 (8) and cache-sized strips
    "vmaf": 30, "flip": 60,
    "lpips": 1500, "lpips_vgg": 3000, "dists": 3000,  # full-resolution CNN activations
}
UNKNOWN_CODEC_BYTES_PER_PIXEL = 2000
UNKNOWN_METRIC_BYTES_PER_PIXEL = 3000
# metric_batch (bench.sweep.batch): decoded pictures in one batched call of the deep metrics
CHUNK_PIXELS = 2 << 20  # on the CPU: 2,097,152 px (5 Kodak pictures, one 1920x1080); a larger picture goes alone
GPU_SHARE = 0.5  # on CUDA: the share of the free GPU memory one batched call may take


def _adapter_key(adapter: str) -> str:
    """The registry name of an adapter given by name or by import path (mypkg.codecs:MyCodec -> unknown)."""
    name = str(adapter).rsplit(":", 1)[-1].split(".")[-1].lower()
    return name if name in CODEC_BYTES_PER_PIXEL else str(adapter)


def bytes_per_pixel(adapter: str, metrics: Iterable[str]) -> int:
    codec = CODEC_BYTES_PER_PIXEL.get(_adapter_key(adapter), UNKNOWN_CODEC_BYTES_PER_PIXEL)
    return codec + sum(METRIC_BYTES_PER_PIXEL.get(str(m), UNKNOWN_METRIC_BYTES_PER_PIXEL) for m in metrics)


def estimate(adapter: str, metrics: Iterable[str], pixels: int, cached_pixels: int = 0, batch_points: int = 1) -> int:
    """Peak bytes of one worker measuring pictures of up to `pixels`, holding `cached_pixels` more, with the deep
    metrics batched over up to `batch_points` rate points of one image (metric_batch)."""
    metrics = list(metrics)
    return BASE_BYTES + pixels * bytes_per_pixel(adapter, metrics) + 3 * cached_pixels + batch_extra(metrics, pixels, batch_points)


def deep_metrics(names: Iterable[str]) -> tuple[str, ...]:
    """The chosen metrics that metric_batch batches across the points of one image (Metric.deep)."""
    from bench import metrics

    return tuple(n for n in names if metrics.spec(n).deep)


def chunk_size(pixels: int, names: Iterable[str], device: str = "auto") -> int:
    """How many decoded pictures of `pixels` each go in one batched call of the deep metrics `names` (>= 1):
    CHUNK_PIXELS worth on the CPU; on CUDA, what GPU_SHARE of the free GPU memory holds at the largest of
    their bytes per pixel."""
    from bench.core.device import resolve_device

    dev = resolve_device(device, "metric_device")
    if dev.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(dev))
        per_pixel = max([METRIC_BYTES_PER_PIXEL.get(n, UNKNOWN_METRIC_BYTES_PER_PIXEL) for n in names] or [1])
        cap = int(GPU_SHARE * free) // per_pixel
    else:
        cap = CHUNK_PIXELS
    return max(1, cap // max(1, int(pixels)))


def batch_extra(metrics: Iterable[str], pixels: int, batch_points: int = 1) -> int:
    """Bytes that batching the deep metrics over the points of one image adds to a worker's peak (CPU)."""
    names = deep_metrics(metrics)
    if batch_points <= 1 or not names or pixels <= 0:
        return 0
    others = min(batch_points, max(1, CHUNK_PIXELS // pixels)) - 1  # pictures in one batched call beyond the first
    return others * pixels * sum(METRIC_BYTES_PER_PIXEL.get(n, UNKNOWN_METRIC_BYTES_PER_PIXEL) for n in names) // 2


def picture_pixels(paths: Iterable[str]) -> list[int]:
    """Pixels of each picture, from its header (no decoding); unreadable files count 0 (they fail as units)."""
    from PIL import Image

    out = []
    for p in paths:
        try:
            with Image.open(p) as im:
                out.append(im.width * im.height)
        except Exception:  # noqa: BLE001 - a broken file becomes a failed row, not a planning error
            out.append(0)
    return out


def _meminfo(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    """Limit minus usage of this process's cgroup (v2, else v1), None when unlimited or unknown."""
    for limit_f, usage_f in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                             ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit = Path(limit_f).read_text().strip()
            usage = int(Path(usage_f).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= 1 << 60:
            return None
        return max(0, int(limit) - usage)
    return None


def worker_budget() -> int:
    """Bytes the workers may use now: MemAvailable, capped by the cgroup's room; a large number when
    neither can be read (then the cores decide alone)."""
    avail = _meminfo("MemAvailable")
    room = _cgroup_room()
    candidates = [v for v in (avail, room) if v is not None]
    return min(candidates) if candidates else 1 << 62


def memory_workers(adapter: str, metrics: Iterable[str], picture_paths: Iterable[str], batch_points: int = 1) -> tuple[int, int]:
    """(workers the memory allows, estimated bytes per worker) for a job over these pictures."""
    sizes = sorted(picture_pixels(picture_paths), reverse=True)
    largest = sizes[0] if sizes else 0
    metrics = list(metrics)
    # the largest batched call may be of a smaller picture (more of them fit in CHUNK_PIXELS)
    extra = max((batch_extra(metrics, n, batch_points) for n in set(sizes)), default=0)
    kept = min(sum(sizes[1:IMAGE_CACHE]), IMAGE_CACHE_BYTES // 3)  # pixels of the other pictures a worker keeps
    per_worker = estimate(adapter, metrics, largest, kept) + extra
    return max(1, int(MEMORY_SHARE * worker_budget() // per_worker)), per_worker


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
