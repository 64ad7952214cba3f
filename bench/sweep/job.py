"""One sweep job from its configuration (Hydra-composed, or any OmegaConf/dict config of the same
shape): plan the units, run them, return what happened.  The tables, plots and report are the command
layer's (`bench.cli.sweep`), so library users get rows without figures."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from bench import metrics
from bench.core.colour import MATRICES
from bench.core.errors import BenchError
from bench.data import datasets
from bench.results.store import RowStore
from bench.sweep.runner import auto_workers, execute, failed_summary
from bench.sweep.units import CodecConfig, plan


def codec_config(cfg: DictConfig) -> CodecConfig:
    c = cfg.codec
    points = tuple(OmegaConf.to_container(c.points)) if OmegaConf.is_list(c.points) else (c.points,)
    if not points:
        raise BenchError(f"codec {c.name}: no rate points (codec.points is empty)")
    return CodecConfig(name=str(c.name), adapter=str(c.adapter), params=OmegaConf.to_container(c.params, resolve=True) or {},
                       points=points, label=str(c.get("label") or ""))


def metric_names(cfg: DictConfig) -> tuple[str, ...]:
    """`metrics: [psnr, ms_ssim, lpips, ...]`, validated against the metric registry."""
    names = cfg.get("metrics", None)
    if names is not None and not isinstance(names, str):
        names = OmegaConf.to_container(names) if OmegaConf.is_list(names) else [names]
    return metrics.resolve(names)


@dataclass(frozen=True)
class Settings:
    """The job's own parameters, checked (one error line each) before any unit runs."""

    threads: int
    workers: int
    unit_timeout: float | None
    metric_matrix: str
    metric_device: str
    keep_bitstreams: bool
    metric_batch: bool = True


def _positive_int(value, name: str, extra: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BenchError(f"{name} must be a positive integer{extra}, not {value!r}")
    return value


def _flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise BenchError(f"{name} must be true or false, not {value!r}")
    return value


def settings(cfg: DictConfig) -> Settings:
    """threads, workers, unit_timeout, metric_matrix, metric_device, keep_bitstreams, metric_batch and plot, validated."""
    threads = _positive_int(cfg.threads, "threads")
    workers = cfg.workers
    if workers not in (None, "auto", 0):
        _positive_int(workers, "workers", " or auto")
    timeout = cfg.get("unit_timeout", None)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or timeout <= 0):
        raise BenchError(f"unit_timeout must be a number of seconds > 0 (or null for no limit), not {timeout!r}")
    matrix = cfg.metric_matrix
    if matrix not in MATRICES:
        raise BenchError(f"metric_matrix {matrix!r} unknown; choose from {', '.join(MATRICES)}")
    device = str(cfg.get("metric_device", "auto"))
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device.lower()):
        raise BenchError(f"metric_device must be auto, cpu or cuda, not {device!r}")
    if device.lower().startswith("cuda"):
        from bench.core.device import resolve_device

        resolve_device(device, "metric_device")  # a GPU asked for and absent: one line now, not one per unit
    _flag(cfg.get("plot", True), "plot")
    return Settings(threads, auto_workers(workers, threads), float(timeout) if timeout is not None else None, matrix, device,
                    _flag(cfg.keep_bitstreams, "keep_bitstreams"), _flag(cfg.get("metric_batch", True), "metric_batch"))


@dataclass
class JobResult:
    codec: str
    dataset: str
    rows: list[dict]
    resumed: int
    failed: list[str]
    wall_s: float
    store: RowStore


def run_job(cfg: DictConfig, log=print) -> JobResult:
    started = time.perf_counter()
    st = settings(cfg)
    codec = codec_config(cfg)
    images = datasets.resolve(cfg.dataset)
    store = RowStore(Path(str(cfg.out_dir))).writable()
    names = metric_names(cfg)
    units, resumed = plan(str(cfg.dataset.name), images, codec, store, threads=st.threads, metric_matrix=st.metric_matrix,
                          keep_bitstreams=st.keep_bitstreams, metric_names=names, metric_device=st.metric_device,
                          timeout=st.unit_timeout, save_reconstructions=bool(cfg.get("save_reconstructions", False)),
                          metric_batch=st.metric_batch)
    workers = st.workers
    if cfg.workers in (None, "auto", 0):  # cores // threads, capped by the memory the largest picture needs
        todo_images = list(dict.fromkeys(u.image.path for u in units))
        workers = auto_workers(cfg.workers, st.threads, adapter=codec.adapter, metrics=names, pictures=todo_images, log=log,
                               batch_points=len(codec.points) if st.metric_batch else 1)
    n_workers = min(workers, max(1, len(units)))
    remeasure = sum(u.remeasure for u in units)
    redo = sum(bool(u.redo_note) for u in units)
    log(f"[bench] {codec.name} on {cfg.dataset.name}: {len(images)} images x {len(codec.points)} points; "
        f"{resumed} done before, {len(units)} to run on {n_workers} worker(s)"
        + (f" ({remeasure} only to add metrics from kept bitstreams)" if remeasure else "")
        + (f"; {redo} row file(s) not trustworthy, redone" if redo else ""))
    rows = execute(units, n_workers, desc=codec.name)
    return JobResult(codec.name, str(cfg.dataset.name), rows, resumed, failed_summary(rows), time.perf_counter() - started, store)
