"""The PSNR family and MS-SSIM on one 768x512 picture, one thread, against their targets and against
pytorch-msssim (a benchmark, not a test): prints figures beside targets; asserts nothing.

    bench perf fidelity [--kodak ../shared/datasets/kodak] [--repeat 30]

Timed on one thread (torch.set_num_threads(1); the PSNR family uses no BLAS), median over `--repeat`
calls after a warm-up, the candidates interleaved call by call so that a change of load on a shared
machine hits them alike; wall and CPU seconds are both given.
  1. PSNR family (RGB, Y, U, V, YUV 6:1:1) of `bench.metrics.psnr`.  Target <= 5 ms.
  2. MS-SSIM of `bench.metrics.ms_ssim`: for the first rate point of a picture (cold) and for the next
     ones (the reference's maps kept, as in a sweep), against pytorch-msssim called as documented
     (NCHW float tensors) and as CompressAI calls it (channels-last tensors from HWC arrays).
     Target: at least 3x faster than pytorch-msssim.
  3. Equality with pytorch-msssim on every Kodak picture (JPEG quality 5, 30, 75, 95 in turn): the
     largest |difference|.  Target <= 1e-6.
Without Kodak, bundled scikit-image photos resized to 768x512 stand in (and 3. uses them).
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import time
from pathlib import Path

import numpy as np

PSNR_TARGET_MS = 5.0
MSSSIM_SPEEDUP_TARGET = 3.0
EQUAL_TARGET = 1e-6


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def _pictures(kodak: str | None) -> tuple[list[np.ndarray], str]:
    from PIL import Image

    if kodak and Path(kodak, "kodim01.png").is_file():
        return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(Path(kodak).glob("kodim*.png"))], f"Kodak ({kodak})"
    from skimage import data

    names = ["astronaut", "coffee", "chelsea", "rocket"]
    pics = [np.asarray(Image.fromarray(getattr(data, n)()[..., :3]).resize((768, 512), Image.BICUBIC)) for n in names]
    return pics, "scikit-image photos resized to 768x512 (no Kodak)"


def interleaved(fns: dict, repeat: int) -> dict[str, tuple[float, float]]:
    """{name: (median wall s, median CPU s)} of each function, called in turn `repeat` times."""
    for f in fns.values():  # warm-up: first-touch costs (oneDNN kernels, allocator) belong to no one
        for _ in range(3):
            f()
    walls: dict[str, list] = {k: [] for k in fns}
    cpus: dict[str, list] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            w, c = time.perf_counter(), time.process_time()
            f()
            walls[k].append(time.perf_counter() - w)
            cpus[k].append(time.process_time() - c)
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in fns}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default=str(Path(__file__).resolve().parents[3] / "shared" / "datasets" / "kodak"))
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    psnr = importlib.import_module("bench.metrics.psnr")
    msssim = importlib.import_module("bench.metrics.ms_ssim")
    pics, src = _pictures(args.kodak)
    ref = pics[0] if pics[0].shape[:2] == (512, 768) else np.ascontiguousarray(np.rot90(pics[0]))
    dec, dec2 = _jpeg(ref, 30), _jpeg(ref, 50)
    print(f"{ref.shape[1]}x{ref.shape[0]} picture from {src}, JPEG quality 30; one thread; median of {args.repeat} calls "
          f"(wall / CPU)", flush=True)

    def nchw(x):
        return torch.from_numpy(np.asarray(x, dtype=np.float32)).permute(2, 0, 1)[None].contiguous()

    from pytorch_msssim import ms_ssim as lib_ms_ssim

    def lib_documented():
        with torch.no_grad():
            return lib_ms_ssim(nchw(ref), nchw(dec), data_range=255, size_average=False)

    def lib_compressai():
        return msssim.reference_ms_ssim(ref[None], dec[None], 11)

    flip = [0]

    def ours_warm():  # the next rate point of the same picture: the reference's maps are kept
        flip[0] ^= 1
        return msssim._ms_ssim_cpu(ref, dec if flip[0] else dec2, 11, reuse_ref=True)

    t = interleaved({"psnr": lambda: psnr.compute_batch(ref, dec), "lib_doc": lib_documented, "lib_cai": lib_compressai,
                     "cold": lambda: msssim._ms_ssim_cpu(ref, dec, 11, reuse_ref=False), "warm": ours_warm}, args.repeat)

    def ms(k):
        return f"{t[k][0] * 1e3:6.1f} / {t[k][1] * 1e3:6.1f} ms"

    out = {"psnr_ms": t["psnr"][0] * 1e3}
    print(f"PSNR family (RGB, Y, U, V, YUV):               {ms('psnr')}   (target <= {PSNR_TARGET_MS:g} ms)")
    print(f"pytorch-msssim, documented call (NCHW):        {ms('lib_doc')}")
    print(f"pytorch-msssim, CompressAI's call (HWC view):  {ms('lib_cai')}")
    print(f"bench MS-SSIM, first rate point of a picture:  {ms('cold')}")
    print(f"bench MS-SSIM, next rate points (a sweep):     {ms('warm')}")
    for base, name in (("lib_doc", "the documented call"), ("lib_cai", "CompressAI's call")):
        cold, warm = t[base][0] / t["cold"][0], t[base][0] / t["warm"][0]
        print(f"MS-SSIM speed-up over pytorch-msssim, {name}: {cold:.2f}x first point, {warm:.2f}x next points "
              f"(CPU: {t[base][1] / t['cold'][1]:.2f}x, {t[base][1] / t['warm'][1]:.2f}x) (target >= {MSSSIM_SPEEDUP_TARGET:g}x)")
        out[f"speedup_{base}"] = (cold, warm)
    worst = 0.0
    for i, p in enumerate(pics):
        d = _jpeg(p, (5, 30, 75, 95)[i % 4])
        win = msssim.ms_ssim_win(*p.shape[:2])
        lib = msssim.reference_ms_ssim(p[None], d[None], win)[0]
        worst = max(worst, abs(msssim.compute_batch(p, d, device="cpu")["ms_ssim_rgb"][0] - lib))
    print(f"MS-SSIM equal to pytorch-msssim on {len(pics)} pictures: largest |difference| {worst:.1e} (target <= {EQUAL_TARGET:g})")
    out["worst_diff"] = worst
    return out


if __name__ == "__main__":
    main()
