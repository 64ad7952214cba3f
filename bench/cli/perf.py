"""`bench perf sweep|metrics|learned [options]`: performance benchmarks that print figures beside
their targets (never timed unit tests).  `bench perf <which> --help` for each one's options."""

from __future__ import annotations

import importlib
import sys

from bench.cli.common import user_errors

WHICH = {
    "sweep": ("bench.perf.sweep", "harness overhead and 2-worker speed-up on Kodak; JPEG sweep vs CompressAI's bench"),
    "metrics": ("bench.perf.metrics", "time per 768x512 picture per metric"),
    "learned": ("bench.perf.learned", "the learned-codec adapter against CompressAI's eval_model"),
}


@user_errors
def main(argv=None) -> int:
    argv = list(argv or [])
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in WHICH:
        print("usage: bench perf {" + ",".join(WHICH) + "} [options]\n\n"
              + "\n".join(f"  {k:<8} {v[1]}" for k, v in WHICH.items()), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    return importlib.import_module(WHICH[argv[0]][0]).main(argv[1:]) or 0
