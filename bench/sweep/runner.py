"""Running units: a process pool inside one job, with a progress bar.

Units run in a pool, not as Hydra jobs: a unit lasts 0.05-10 s, far less than starting a Hydra job
(config composition, logging, a new interpreter for submitit/Ray), and a pool keeps each worker's
decoded pictures cached across the points of the same image.  Hydra's launchers parallelise the
level above (codecs, datasets), so the same sweep runs on a cluster with the submitit or Ray launcher
unchanged: every job writes its own rows, keyed by content, into the shared results folder.

Why pebble's ProcessPool and not concurrent.futures: a unit can hang inside C code (NaN activations
spin CompressAI's C++ entropy coder at 100 % CPU; a signal never reaches Python there), and a worker
can be killed from outside (the out-of-memory killer sends SIGKILL).  ProcessPoolExecutor can neither
end one task (no per-task timeout, no way to kill its worker) nor survive a dead worker (every pending
future fails with BrokenProcessPool and no row names the unit).  pebble (a small, maintained library)
gives each task a timeout that kills its worker (SIGTERM, then SIGKILL) and reports a dead worker as
that task's ProcessExpired, then starts a fresh worker; the other units go on.  A unit that ends
either way becomes a failed row naming its reason (`bench.sweep.units.failed_row`).  Every unit runs
in a worker, with workers=1 too, so the main process is never the one stuck; workers come from a fork
server (`_context`), not from a fork of this process.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Sequence

from pebble import ProcessExpired, ProcessPool
from tqdm import tqdm

from bench.core.errors import BenchError
from bench.sweep.batch import group, group_timeout, run_group
from bench.sweep.units import Unit, failed_row, grace, run_unit  # noqa: F401  (grace: public name here too)


def _worker_init(threads: int, environ: dict | None = None, cwd: str | None = None, path: list | None = None) -> None:
    # The fork server was started once, with the environment, folder and import path of that moment;
    # the units must see the job's own as they are now: BENCH_FFMPEG, BENCH_HM_DIR, TORCH_HOME, relative
    # checkpoint paths, and the user's plugin modules and entry points on sys.path.
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    if cwd is not None:
        os.chdir(cwd)
    if path is not None:
        sys.path[:] = path
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def auto_workers(workers: Any, threads: int, *, adapter: str | None = None, metrics: Sequence[str] = (),
                 pictures: Sequence[str] = (), log: Callable[[str], None] | None = None, batch_points: int = 1) -> int:
    """`workers=auto`: cores // threads, and never more than the free memory allows for the largest
    picture with this codec and these metrics (`bench.sweep.memory` says how it estimates); a number
    is taken as given."""
    if workers not in (None, "auto", 0):
        return max(1, int(workers))
    from bench.sweep.memory import cores, memory_workers

    by_cores = max(1, cores() // max(1, threads))
    if adapter is None or not pictures:
        return by_cores
    by_memory, per_worker = memory_workers(adapter, metrics, pictures, batch_points)
    if by_memory < by_cores and log:
        log(f"[bench] workers=auto: {by_memory} instead of {by_cores}: about {per_worker / 1e9:.1f} GB per worker for the "
            f"largest picture, and the free memory allows {by_memory} (bench.sweep.memory)")
    return min(by_cores, by_memory)


def _context():
    """Workers are forked from a fork server, a fresh interpreter that has imported bench.sweep.units and
    nothing else, never from this process.  A plain fork would copy this process's state: the pool's own
    threads, and a CUDA driver that planning initialised by asking torch whether a GPU exists (the CompressAI
    adapter's check; CUDA cannot be used in a child forked after that).  The fork server keeps worker starts
    cheap (one interpreter start per sweep, then a fork per worker, also after a worker is killed), and each
    worker still gets this process's sys.path and working folder (multiprocessing's preparation data)."""
    _check_main_is_guarded()
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(["bench.sweep.units"])
    return ctx


def _check_main_is_guarded() -> None:
    """A script run by path is imported again in every worker (multiprocessing's rule for fork servers and
    spawn, Python's default from 3.14): without `if __name__ == "__main__":` each worker would start the
    sweep again and the pool would restart dying workers forever.  One clear line instead."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or getattr(getattr(main, "__spec__", None), "name", None):  # interactive, or `python -m`: not re-imported
        return
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return
    if not re.search(r"""__name__\s*==\s*['"]__main__['"]|['"]__main__['"]\s*==\s*__name__""", text):
        raise BenchError(f"{path} runs a sweep without `if __name__ == \"__main__\":`; sweep workers import the main "
                         "script again (multiprocessing fork server), so put the code that starts the sweep under that guard")


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        return f"killed by {name}" + (" (as the out-of-memory killer does)" if -code == signal.SIGKILL else "")
    return f"exit status {code}"


def _outcome(fut, task: list[Unit]) -> list[dict]:
    """The task's rows: its own, or failed rows when its worker hung, died or could not run it.  For a unit
    group (bench.sweep.batch), the points that wrote their row before keep it (failed_row returns it)."""
    unit = task[0]
    what = "this unit" if len(task) == 1 else f"this image's unit group ({len(task)} points, deep metrics batched: metric_batch)"
    try:
        got = fut.result()
        return got if isinstance(got, list) else [got]
    except (FutureTimeout, TimeoutError):  # pebble's per-task timeout (the same class on Python >= 3.11)
        if len(task) == 1:
            reason = (f"TimeoutError: the unit ran past its time limit of {unit.timeout:g} s (unit_timeout) and its worker "
                      "was killed")
        else:
            reason = (f"TimeoutError: {what} ran past its time limit of {group_timeout(task):g} s (its points' unit_timeout "
                      "added up) and its worker was killed")
    except ProcessExpired as exc:
        reason = f"WorkerDied: the worker process running {what} ended ({_exit_text(exc.exitcode)})"
    except OSError as exc:  # run_unit could not write its row (read-only or full disk): no unit can
        raise BenchError(f"cannot write the rows of {unit.sweep_dir}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - anything else the worker raised instead of returning a row
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return [failed_row(u, reason) for u in task]


def _schedule(pool, task: list[Unit]):
    if len(task) == 1:
        u = task[0]
        return pool.schedule(run_unit, (u,), timeout=u.timeout + grace(u.timeout) if u.timeout else None)
    return pool.schedule(run_group, (task,), timeout=group_timeout(task))


def execute(units: list[Unit], workers: int, desc: str = "") -> list[dict]:
    """Run units over `workers` processes with a progress bar; returns the rows (one per unit, always).  Units
    with metric_batch that batch deep metrics go to a worker together, per image (bench.sweep.batch.group)."""
    rows: list[dict] = []
    if not units:
        return rows
    # In a log file (no TTY) a line every 10 s is enough; on a terminal the bar redraws often.
    bar = tqdm(total=len(units), desc=desc, unit="unit", dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 10)
    pool = ProcessPool(max_workers=workers, context=_context(), initializer=_worker_init,
                       initargs=(units[0].threads, dict(os.environ), os.getcwd(), list(sys.path)))
    try:
        futures = {_schedule(pool, task): task for task in group(units, workers)}
        for fut in as_completed(futures):
            got = _outcome(fut, futures[fut])
            rows.extend(got)
            bar.update(len(got))
        pool.close()
    except BaseException:  # Ctrl-C, a row that cannot be written: stop the workers, keep what is written
        pool.stop()
        raise
    finally:
        pool.join()
        bar.close()
    return rows


def failed_summary(rows: list[dict]) -> list[str]:
    return [f"{r['codec']} {r['image']} {r['point_name']}={r['point']}: {r['error']}" for r in rows if r["status"] != "ok"]
