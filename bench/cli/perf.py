"""`bench perf all|fidelity|sweep|rerun|memory|tables|metrics|learned|deep [options]`: performance
benchmarks that print figures beside their targets (never timed unit tests).  `bench perf <which>
--help` for each one's options; `bench perf all --kodak DIR` runs those of issue 13 in one go."""

from __future__ import annotations

import importlib
import sys

from bench.cli.common import user_errors

WHICH = {
    "all": ("bench.perf.all", "every figure of issue 13 beside its target, one summary table (--kodak DIR)"),
    "fidelity": ("bench.perf.fidelity", "PSNR family and MS-SSIM on one thread against pytorch-msssim"),
    "sweep": ("bench.perf.sweep", "harness overhead and 2-worker speed-up on Kodak; JPEG sweep vs CompressAI's bench"),
    "rerun": ("bench.perf.rerun", "reruns of unchanged sweeps"),
    "memory": ("bench.perf.memory", "peak memory of one unit on a 12000x8000 picture; what workers=auto allows"),
    "tables": ("bench.perf.tables", "load and rebuild the tables of a synthetic million-row sweep"),
    "metrics": ("bench.perf.metrics", "time per 768x512 picture per metric (all metrics, batched)"),
    "learned": ("bench.perf.learned", "the learned-codec adapter against CompressAI's eval_model"),
    "deep": ("bench.perf.deep", "LPIPS / DISTS per unit against batched across an image's rate points (metric_batch)"),
}


@user_errors
def main(argv=None) -> int:
    argv = list(argv or [])
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in WHICH:
        print("usage: bench perf {" + ",".join(WHICH) + "} [options]\n\n"
              + "\n".join(f"  {k:<8} {v[1]}" for k, v in WHICH.items()), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    result = importlib.import_module(WHICH[argv[0]][0]).main(argv[1:])
    return result if isinstance(result, int) else 0
