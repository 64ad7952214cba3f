"""One sweep job from its configuration (Hydra-composed, or any OmegaConf/dict config of the same
shape): plan the units, run them, return what happened.  The tables, plots and report are the command
layer's (`bench.cli.sweep`), so library users get rows without figures."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from bench import metrics
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
    codec = codec_config(cfg)
    images = datasets.resolve(cfg.dataset)
    store = RowStore(Path(str(cfg.out_dir)))
    names = metric_names(cfg)
    units, resumed = plan(str(cfg.dataset.name), images, codec, store, threads=int(cfg.threads),
                          metric_matrix=str(cfg.metric_matrix), keep_bitstreams=bool(cfg.keep_bitstreams),
                          metric_names=names, metric_device=str(cfg.get("metric_device", "auto")))
    todo_images = list(dict.fromkeys(u.image.path for u in units))
    workers = auto_workers(cfg.workers, cfg.threads, adapter=codec.adapter, metrics=names, pictures=todo_images, log=log)
    n_workers = min(workers, max(1, len(units)))
    remeasure = sum(u.remeasure for u in units)
    log(f"[bench] {codec.name} on {cfg.dataset.name}: {len(images)} images x {len(codec.points)} points; "
        f"{resumed} done before, {len(units)} to run on {n_workers} worker(s)"
        + (f" ({remeasure} only to add metrics from kept bitstreams)" if remeasure else ""))
    rows = execute(units, n_workers, desc=codec.name)
    return JobResult(codec.name, str(cfg.dataset.name), rows, resumed, failed_summary(rows), time.perf_counter() - started, store)
