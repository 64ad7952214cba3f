"""Deep metrics batched across the rate points of one image (config `metric_batch`, default true).

A sweep's unit is (image, rate point) and writes its own row.  A deep metric (`Metric.deep`: LPIPS alex/vgg,
DISTS) costs forward passes of a CNN, and on a GPU one pass over K decoded pictures costs much less than K
passes of one.  So with metric_batch the runner hands one worker the units of one image together (a unit
group, `group`), and the worker (`run_group`) takes their points in chunks of at most `chunk_size` pictures:

  1. per point of the chunk: encode, decode and the other metrics, exactly as `run_unit` does, under the
     point's own deadline (codec processes still running at unit_timeout are killed);
  2. the chunk's deep metrics, one call per metric: the decoded pictures as one batch against the reference
     run through the network once (`bench.metrics.base.single_reference`).  A batched call that raises (a GPU
     out of memory) is made again one picture at a time, so a batch never measures less than per-point calls;
  3. every point's row is written (one atomic file per unit) before the next chunk starts.

What stays as without batching: the rows, their columns and their meanings; the values (the deep metrics' own
up to the float rounding of batched convolutions: bitwise equal on CPU here, tests/test_metric_batch.py); a
failing point is its own failed row and the other points go on; the non-deep metrics run per point.  What
differs: `metrics_s` and `unit_s` of a point include an equal share (1/K) of its chunk's batched calls, and
the row says K (`metric_batch_size`); an interrupted group keeps the rows of its finished chunks (a rerun
computes the rest, as for any unit without a row); a point stuck inside library code (no codec process to
kill) is ended by the pool at the group's limit, the sum of its points' limits (`group_timeout`), not at its
own, and every point of the group without a row then gets a failed row that names the group.  A point that
finishes but ran past its own limit (plus the pool's grace) is a failed row, as it would have been alone.
Units that only add metrics from a kept bitstream, and jobs without a deep metric, run unit by unit.

Memory bound (`bench.sweep.memory.chunk_size`): a chunk holds at most CHUNK_PIXELS of decoded pictures (2 Mpx:
5 Kodak pictures; a larger picture goes alone, as without batching) when the metrics run on the CPU; on CUDA,
as many as GPU_SHARE of the free GPU memory holds at the deep metrics' bytes per pixel.  workers=auto counts
the chunk in its estimate (`bench.sweep.memory.batch_extra`).
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from bench import metrics
from bench.codecs.base import set_deadline
from bench.data.images import load_original
from bench.sweep.memory import chunk_size, deep_metrics
from bench.sweep.units import Unit, base_row, finish, grace, measure

deep = deep_metrics  # the chosen metrics that a unit group batches (Metric.deep)


def group(units: list[Unit], workers: int = 1) -> list[list[Unit]]:
    """The pool's tasks: the units of one image (and codec configuration) together when they batch deep
    metrics, every other unit alone.  While there are fewer tasks than workers, the largest group is split
    in two, so batching never leaves a worker idle that the points of one image could keep busy."""
    tasks: dict[object, list[Unit]] = {}
    for u in units:
        batched = u.metric_batch and not u.remeasure and deep(u.metric_names)
        tasks.setdefault((u.image.path, u.image.sha256, u.codec_hash) if batched else id(u), []).append(u)
    out = list(tasks.values())
    while len(out) < workers:
        big = max(out, key=len, default=[])
        if len(big) < 2:
            break
        i = out.index(big)
        out[i:i + 1] = [big[:len(big) // 2], big[len(big) // 2:]]
    return out


def group_timeout(units: Sequence[Unit]) -> float | None:
    """The pool's limit for a group: what its points would have had one by one (their limits plus grace)."""
    if any(not u.timeout for u in units):
        return None
    return sum(u.timeout + grace(u.timeout) for u in units)


def _split(out: dict, k: int) -> list[dict]:
    """{column: K values or one record} -> K rows' worth of {column: value}."""
    rows: list[dict] = [{} for _ in range(k)]
    for col, v in out.items():
        for i in range(k):
            x = v[i] if isinstance(v, (np.ndarray, list)) and len(v) == k else v
            rows[i][col] = x.item() if isinstance(x, np.generic) else x
    return rows


def _deep_values(ref: np.ndarray, decs: list[np.ndarray], names: Sequence[str], matrix: str, device: str) -> list[dict]:
    """Each picture's values of the deep metrics: one batched call per metric, one call per picture if it raises."""
    k = len(decs)
    batch = np.stack(decs)
    refs = np.broadcast_to(ref, batch.shape)  # one picture, no copy: the metric runs it once (single_reference)
    per: list[dict] = [{} for _ in range(k)]
    for name in names:
        try:
            parts = _split(metrics.compute_batch(refs, batch, matrix, [name], device, on_error="raise"), k)
        except Exception:  # noqa: BLE001 - e.g. out of GPU memory: what a per-point call gives, failure notes included
            parts = [metrics.compute(ref, d, matrix, [name], device) for d in decs]
        for i in range(k):
            note = parts[i].pop(metrics.NOTE, "")
            per[i].update(parts[i])
            if note:
                per[i][metrics.NOTE] = metrics.NOTE_SEP.join(x for x in (per[i].get(metrics.NOTE, ""), note) if x)
    return per


def _notes(names: Sequence[str], *texts: str) -> str:
    """metric_note entries of both parts, in the order of the chosen metrics (as a per-point call writes them)."""
    parts = [p for t in texts for p in str(t or "").split(metrics.NOTE_SEP) if p]
    order = {n: i for i, n in enumerate(names)}
    return metrics.NOTE_SEP.join(sorted(parts, key=lambda p: order.get(p.split(":")[0], len(order))))


def run_group(units: list[Unit]) -> list[dict]:
    """The rows of the units of one image (one codec configuration), deep metrics batched (see the module)."""
    names = units[0].metric_names
    batched = deep(names)
    others = tuple(n for n in names if n not in batched)
    try:  # the size of this image's pictures decides the chunk; a refused picture fails in every unit anyway
        h, w = load_original(units[0].image.path).rgb.shape[:2]
        size = chunk_size(h * w, batched, units[0].metric_device)
    except Exception:  # noqa: BLE001
        size = 1
    rows = []
    for start in range(0, len(units), size):
        done = []  # [unit, row, (original, decoded) or None, seconds of its own work]
        for u in units[start:start + size]:
            t0 = time.perf_counter()
            set_deadline(t0 + u.timeout if u.timeout else None)
            try:
                row, pictures = measure(u, others)
            finally:
                set_deadline(None)
            own = time.perf_counter() - t0
            if pictures is not None and u.timeout and own > u.timeout + grace(u.timeout):
                # alone, its worker would have been killed and the runner would have written this failed row
                row = {**base_row(u), "status": "failed", "error": f"TimeoutError: the unit ran past its time limit of "
                       f"{u.timeout:g} s (unit_timeout)"}
                pictures = None
            done.append([u, row, pictures, own])
        ok = [d for d in done if d[2] is not None]
        if ok and batched:
            t = time.perf_counter()
            u0 = ok[0][0]
            values = _deep_values(ok[0][2][0], [d[2][1] for d in ok], batched, u0.metric_matrix, u0.metric_device)
            share = (time.perf_counter() - t) / len(ok)
            for d, v in zip(ok, values):
                note = v.pop(metrics.NOTE, "")
                d[1].update(v)
                d[1][metrics.NOTE] = _notes(names, d[1].get(metrics.NOTE, ""), note)
                d[1]["metrics_s"] = d[1]["metrics_s"] + share
                d[1]["metric_batch_size"] = len(ok)  # pictures in the batched call that measured this point
                d[3] += share
        for u, row, _pictures, own in done:
            rows.append(finish(u, row, time.perf_counter() - own))
    return rows
