"""VMAF through the pinned ffmpeg's libvmaf filter, default model (vmaf_v0.6.1).

  - Input: the 8-bit RGB pictures are converted here (numpy, rounded, `bench.colour`) to 8-bit
    Y'CbCr 4:4:4, BT.709, limited range (the video range VMAF's model was trained on) and handed to
    ffmpeg as raw planes; VMAF's features (VIF, ADM, motion) read the luma plane.
  - Each picture is a one-frame video, so the motion feature is 0 and an identical pair scores
    97.43, the vmaf_v0.6.1 ceiling for still pictures (not 100).  A batch of N pairs runs as N
    independent libvmaf filters inside one ffmpeg process (one stream of N unrelated pictures would
    feed motion between them).
  - Pooled score = the frame's score (json log `frames[0].metrics.vmaf`).
  - Pictures with a side under 17 px get NaN (libvmaf crashes on them), as MS-SSIM gives NaN below
    its minimum size.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.metrics.base import Metric, as_batch, column

SPECS = {
    "vmaf": Metric(
        "vmaf", __name__,
        {"vmaf": column(higher_is_better=True, unit="", value_range=(0.0, 100.0),
                        input_range="8-bit Y'CbCr 4:4:4 limited range", colour_space="Y' BT.709 (limited, 8-bit)",
                        kind="perceptual", label="VMAF (vmaf_v0.6.1, still picture)")},
        description="libvmaf in ffmpeg, default model vmaf_v0.6.1",
    ),
}
MODEL = "vmaf_v0.6.1"  # the libvmaf filter's default `model=version=vmaf_v0.6.1`
MIN_SIDE = 17  # libvmaf (86da14d in ffmpeg 9.0.2) segfaults on a 16-px side; smaller pictures get NaN


@lru_cache(maxsize=1)
def _ffmpeg() -> tuple[str, str]:
    from bench.core.ffmpeg import ffmpeg_exe, ffmpeg_version

    exe = ffmpeg_exe()
    filters = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    if " libvmaf " not in filters:
        from bench.core.errors import BenchError

        raise BenchError(f"VMAF: {exe} has no libvmaf filter (imageio-ffmpeg==0.8.1's ffmpeg has it)")
    return exe, ffmpeg_version().split(" Copyright")[0]


def check() -> None:
    """The pinned (or BENCH_FFMPEG's) ffmpeg exists and has libvmaf: checked once before any unit."""
    _ffmpeg()


def _threads() -> int:
    return max(1, int(os.environ.get("OMP_NUM_THREADS") or 0) or (os.cpu_count() or 1))


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto", **_) -> dict:
    from bench.core.colour import ColourSpec, rgb_to_planes

    ref, dec = as_batch(ref), as_batch(dec)
    exe, ffv = _ffmpeg()
    spec = ColourSpec("bt709", "limited", "444", 8)
    n, h, w = ref.shape[:3]
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv444p", "-s", f"{w}x{h}", "-color_range", "tv", "-colorspace", "bt709"]
    if min(h, w) < MIN_SIDE:
        why = f"not measured: a side < {MIN_SIDE} px (libvmaf crashes at 16 px)"
        return {"vmaf": np.full(n, np.nan), "vmaf_impl": why, "metric_note": [f"{w}x{h}: {why[14:]}"] * n}
    threads = _threads()
    with tempfile.TemporaryDirectory(prefix="bench-vmaf-") as tmp:
        args, graph, maps = [exe, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"], [], []
        for i in range(n):
            # libvmaf: first input the distorted picture, second the reference
            for name, pic in ((f"d{i}.yuv", dec[i]), (f"r{i}.yuv", ref[i])):
                Path(tmp, name).write_bytes(b"".join(p.astype(np.uint8).tobytes() for p in rgb_to_planes(pic, spec)))
                args += [*raw, "-i", name]
            graph.append(f"[{2 * i}:v][{2 * i + 1}:v]libvmaf=log_path=v{i}.json:log_fmt=json:n_threads={threads}[o{i}]")
            maps += ["-map", f"[o{i}]", "-f", "null", "-"]
        proc = subprocess.run(args + ["-filter_complex", ";".join(graph)] + maps, cwd=tmp, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            raise RuntimeError(f"ffmpeg libvmaf exited {proc.returncode}: {tail}")
        logs = [json.loads(Path(tmp, f"v{i}.json").read_text()) for i in range(n)]
    values = np.array([float(log["frames"][0]["metrics"]["vmaf"]) for log in logs])
    impl = (f"libvmaf {logs[0].get('version', '?')} model {MODEL} (filter default), {ffv}; "
            "input Y'CbCr BT.709 limited 8-bit 4:4:4 (numpy, rounded)")
    return {"vmaf": values, "vmaf_impl": impl}
