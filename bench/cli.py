"""`bench`: the Hydra entry point.  One job = one codec configuration on one dataset.

    bench                                   # default sweep (bundled photos; x265, vvenc, JPEG)
    bench -m dataset=kodak dataset.root=../shared/datasets/kodak codec=x265_444_10bit,jpeg
    bench codec=jpeg codec.points=[50,75] workers=2
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from bench import datasets
from bench.errors import BenchError, exit_on_user_error
from bench.plot import rd_plot
from bench.provenance import git_revision, host, package_versions, pip_freeze
from bench.store import RowStore, atomic_write_bytes
from bench.sweep import CodecConfig, auto_workers, execute, failed_summary, plan


def codec_config(cfg: DictConfig) -> CodecConfig:
    c = cfg.codec
    points = tuple(OmegaConf.to_container(c.points)) if OmegaConf.is_list(c.points) else (c.points,)
    if not points:
        raise BenchError(f"codec {c.name}: no rate points (codec.points is empty)")
    return CodecConfig(name=c.name, adapter=c.adapter, params=OmegaConf.to_container(c.params, resolve=True) or {}, points=points,
                       label=str(c.get("label") or ""))


def _metric_names(cfg: DictConfig) -> tuple[str, ...]:
    """`metrics: [psnr, ms_ssim, lpips, ...]`, validated against bench.metrics.REGISTRY."""
    from bench import metrics

    names = cfg.get("metrics", None)
    if names is not None and not isinstance(names, str):
        names = OmegaConf.to_container(names) if OmegaConf.is_list(names) else [names]
    return metrics.resolve(names)


def _write_run_record(run_dir: Path) -> None:
    """Beside Hydra's .hydra/config.yaml: code version, packages and host of this job."""
    record = {"git_revision": git_revision(), "packages": package_versions(), **host()}
    atomic_write_bytes(run_dir / "provenance.json", json.dumps(record, indent=1).encode())
    atomic_write_bytes(run_dir / "pip-freeze.txt", pip_freeze().encode())


def run(cfg: DictConfig) -> dict:
    started = time.perf_counter()
    codec = codec_config(cfg)
    images = datasets.resolve(cfg.dataset)
    store = RowStore(Path(cfg.out_dir))
    try:
        _write_run_record(Path(HydraConfig.get().runtime.output_dir))
    except ValueError:  # called outside Hydra (tests, library use)
        pass
    workers = auto_workers(cfg.workers, cfg.threads)
    units, resumed = plan(cfg.dataset.name, images, codec, store, threads=int(cfg.threads),
                          metric_matrix=cfg.metric_matrix, keep_bitstreams=bool(cfg.keep_bitstreams),
                          metric_names=_metric_names(cfg), metric_device=str(cfg.get("metric_device", "auto")))
    print(f"[bench] {codec.name} on {cfg.dataset.name}: {len(images)} images x {len(codec.points)} points; "
          f"{resumed} done before, {len(units)} to run on {min(workers, max(1, len(units)))} worker(s)"
          + (f" ({sum(u.remeasure for u in units)} only to add metrics from kept bitstreams)" if any(u.remeasure for u in units) else ""),
          flush=True)
    rows = execute(units, min(workers, max(1, len(units))), desc=codec.name)
    failed = failed_summary(rows)
    paths = store.write_tables()
    plots = []
    if cfg.plot and paths:
        df = store.frame()
        for metric in cfg.plot_metrics:
            plots += rd_plot(df, metric, store.dir / f"rd_{metric}")
    for line in failed[:20]:
        print(f"[bench] failed: {line}", file=sys.stderr)
    if len(failed) > 20:
        print(f"[bench] ... {len(failed) - 20} more failed units", file=sys.stderr)
    wall = time.perf_counter() - started
    print(f"[bench] {codec.name}: {len(rows) - len(failed)} ok, {len(failed)} failed in {wall:.1f} s", flush=True)
    if paths:
        print(f"[bench] table: {paths['parquet']} and {paths['csv']}; means: {paths['summary']}")
    if plots:
        print(f"[bench] RD plots: {', '.join(str(p) for p in plots if p.suffix == '.png')}")
    return {"rows": len(rows), "failed": len(failed), "wall_s": wall}


# An absolute path: as a console script Hydra would otherwise look for a Python package "conf".
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
@exit_on_user_error
def _hydra_main(cfg: DictConfig) -> dict:
    return run(cfg)


def main() -> None:
    _hydra_main()


if __name__ == "__main__":
    main()
