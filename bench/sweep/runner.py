"""Running units: a process pool inside one job, with a progress bar.

Units run in a pool, not as Hydra jobs: a unit lasts 0.05-10 s, far less than starting a Hydra job
(config composition, logging, a new interpreter for submitit/Ray), and a pool keeps each worker's
decoded pictures cached across the points of the same image.  Hydra's launchers parallelise the
level above (codecs, datasets), so the same sweep runs on a cluster with the submitit or Ray launcher
unchanged: every job writes its own rows, keyed by content, into the shared results folder.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any, Callable, Sequence

from tqdm import tqdm

from bench.sweep.units import Unit, run_unit


def _worker_init(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def auto_workers(workers: Any, threads: int, *, adapter: str | None = None, metrics: Sequence[str] = (),
                 pictures: Sequence[str] = (), log: Callable[[str], None] | None = None) -> int:
    """`workers=auto`: cores // threads, and never more than the free memory allows for the largest
    picture with this codec and these metrics (`bench.sweep.memory` says how it estimates); a number
    is taken as given."""
    if workers not in (None, "auto", 0):
        return max(1, int(workers))
    from bench.sweep.memory import cores, memory_workers

    by_cores = max(1, cores() // max(1, threads))
    if adapter is None or not pictures:
        return by_cores
    by_memory, per_worker = memory_workers(adapter, metrics, pictures)
    if by_memory < by_cores and log:
        log(f"[bench] workers=auto: {by_memory} instead of {by_cores}: about {per_worker / 1e9:.1f} GB per worker for the "
            f"largest picture, and the free memory allows {by_memory} (bench.sweep.memory)")
    return min(by_cores, by_memory)


def execute(units: list[Unit], workers: int, desc: str = "") -> list[dict]:
    """Run units over `workers` processes with a progress bar; returns the rows."""
    rows: list[dict] = []
    if not units:
        return rows
    # In a log file (no TTY) a line every 10 s is enough; on a terminal the bar redraws often.
    bar = tqdm(total=len(units), desc=desc, unit="unit", dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 10)
    threads = units[0].threads
    if workers == 1:
        _worker_init(threads)
        for u in units:
            rows.append(run_unit(u))
            bar.update()
    else:
        # fork: workers inherit the imported modules; nothing in the parent has started torch threads.
        with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_worker_init, initargs=(threads,)) as pool:
            futures = [pool.submit(run_unit, u) for u in units]
            for fut in as_completed(futures):
                rows.append(fut.result())
                bar.update()
    bar.close()
    return rows


def failed_summary(rows: list[dict]) -> list[str]:
    return [f"{r['codec']} {r['image']} {r['point_name']}={r['point']}: {r['error']}" for r in rows if r["status"] != "ok"]
