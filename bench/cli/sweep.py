"""`bench sweep` (and plain `bench`): the Hydra entry point.  One job = one codec configuration on one
dataset; a multirun sweeps codecs x datasets.

    bench                                   # default sweep (bundled photos; x265, vvenc, JPEG, demo model)
    bench -m dataset=kodak dataset.root=../shared/datasets/kodak codec=x265_444_10bit,jpeg
    bench codec=jpeg codec.points=[50,75] workers=2
    bench --config-dir myconf codec=mycodec  # your own conf/codec/mycodec.yaml beside the packaged ones

The configs are the packaged `conf/` (bench.core.assets); `--config-dir` adds the user's folder.
After the jobs, `ReportCallback` writes the report of every sweep folder the jobs wrote into.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bench.cli.common import user_errors
from bench.core.assets import conf_dir
from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes, require_writable
from bench.core.provenance import git_revision, host, package_versions, pip_freeze
from bench.report.figures import rd_plot
from bench.report.report import write_report
from bench.results.store import RowStore
from bench.results.tables import frame, write_tables
from bench.sweep.job import run_job

FAILED_UNITS: list[str] = []  # over every job of this process: a sweep with failed units exits 1
UNITS_RUN: list[int] = [0]  # units run by every job of this process (to say "every unit failed")


def _write_run_record(run_dir: Path) -> None:
    """Beside Hydra's .hydra/config.yaml: code version, packages and host of this job."""
    record = {"git_revision": git_revision(), "packages": package_versions(), **host()}
    atomic_write_bytes(run_dir / "provenance.json", json.dumps(record, indent=1).encode())
    atomic_write_bytes(run_dir / "pip-freeze.txt", pip_freeze().encode())


def run(cfg: DictConfig) -> dict:
    """One job: its units, then the sweep folder's tables and RD plots.  Library and test entry."""
    try:
        _write_run_record(Path(HydraConfig.get().runtime.output_dir))
    except ValueError:  # called outside Hydra (tests, library use)
        pass
    res = run_job(cfg, log=lambda m: print(m, flush=True))
    paths = write_tables(res.store)
    plots = []
    if cfg.plot and paths:
        df = frame(res.store)
        for metric in cfg.plot_metrics:
            plots += rd_plot(df, metric, res.store.dir / f"rd_{metric}")
    for line in res.failed[:20]:
        print(f"[bench] failed: {line}", file=sys.stderr)
    if len(res.failed) > 20:
        print(f"[bench] ... {len(res.failed) - 20} more failed units", file=sys.stderr)
    FAILED_UNITS.extend(res.failed)
    UNITS_RUN[0] += len(res.rows)
    invalid = res.store.invalid()
    if invalid:
        shown = "; ".join(f"{name}: {why}" for name, why in invalid[:3]) + ("; ..." if len(invalid) > 3 else "")
        print(f"[bench] {len(invalid)} file(s) in {res.store.rows_dir} are not trustworthy rows and are left out of the "
              f"tables ({shown})", file=sys.stderr)
    print(f"[bench] {res.codec}: {len(res.rows) - len(res.failed)} ok, {len(res.failed)} failed in {res.wall_s:.1f} s", flush=True)
    if paths:
        print(f"[bench] table: {paths['parquet']} and {paths['csv']}; means: {paths['summary']}")
    if plots:
        print(f"[bench] RD plots: {', '.join(str(p) for p in plots if p.suffix == '.png')}")
    return {"rows": len(res.rows), "failed": len(res.failed), "wall_s": res.wall_s}


class PreflightCallback:
    """A Hydra callback that checks, before Hydra creates its run folders there, that the results folder
    can be written: a read-only one is one `error:` line and exit 2, not Hydra's traceback.  Enabled in
    conf/config.yaml (`hydra.callbacks.preflight`)."""

    def _check(self, config) -> None:
        try:
            out = Path(str(config.out_dir))
        except Exception:  # noqa: BLE001 - a config without out_dir: the job says what is wrong
            return
        try:
            require_writable(out)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)

    def on_run_start(self, config, **kwargs) -> None:
        self._check(config)

    def on_multirun_start(self, config, **kwargs) -> None:
        self._check(config)

    # the rest of Hydra's callback interface
    def on_run_end(self, config, **kwargs) -> None: ...
    def on_multirun_end(self, config, **kwargs) -> None: ...
    def on_job_start(self, config, **kwargs) -> None: ...
    def on_job_end(self, config, job_return=None, **kwargs) -> None: ...


class ReportCallback:
    """A Hydra callback that writes the report once per sweep folder after the jobs (the main job's
    report).  Enabled in conf/config.yaml (`hydra.callbacks.report`), or per command:
    `bench ... '+hydra.callbacks.report._target_=bench.cli.sweep.ReportCallback'`.
    A failing report is one line on stderr; it never fails the sweep."""

    def __init__(self, anchor: str | None = None, n_boot: int = 1000, published: Sequence[str] = (),
                 metrics: Sequence[str] | None = None, panels: bool = True):
        self.anchor, self.n_boot, self.published, self.panels = anchor, n_boot, list(published), bool(panels)
        self.metrics = list(metrics) if metrics else None
        self.dirs: list[Path] = []

    def on_job_end(self, config, job_return=None, **kwargs) -> None:
        cfg = getattr(job_return, "cfg", None) or config
        try:
            d = Path(str(cfg.out_dir))
        except Exception:  # noqa: BLE001 - a config without out_dir: nothing to report
            return
        if d not in self.dirs:
            self.dirs.append(d)

    def _write(self, config) -> None:
        dirs = self.dirs
        if not dirs:  # remote launchers run on_job_end elsewhere: fall back to the primary config's folder
            try:
                dirs = [Path(str(config.out_dir))]
            except Exception:  # noqa: BLE001
                return
        plot_metrics = list(getattr(config, "plot_metrics", None) or []) if getattr(config, "plot", True) else []
        for d in dirs:
            if not (d / "rows").is_dir():
                continue
            try:
                # the tables once more after every job of the multirun: jobs run by a launcher in
                # parallel each rebuilt them from the rows they could see
                store = RowStore(d)
                df = frame(store)
                write_tables(store, df)
                for metric in plot_metrics:
                    rd_plot(df, str(metric), d / f"rd_{metric}")
                extra = {} if self.panels else {"panels": None}
                md = write_report(d, self.anchor, self.published, n_boot=self.n_boot, metrics=self.metrics, **extra)
                print(f"[bench] report: {md} and {md.with_suffix('.html')}", flush=True)
            except BenchError as exc:  # e.g. no ok rows: said in one line
                print(f"[bench] report not written: {exc}", file=sys.stderr)
            except Exception as exc:  # noqa: BLE001 - the sweep's rows stand without the report
                print(f"[bench] report not written for {d}: {type(exc).__name__}: {exc}", file=sys.stderr)

    def on_multirun_end(self, config, **kwargs) -> None:
        self._write(config)

    def on_run_end(self, config, **kwargs) -> None:
        self._write(config)

    # the rest of Hydra's callback interface
    def on_run_start(self, config, **kwargs) -> None: ...
    def on_multirun_start(self, config, **kwargs) -> None: ...
    def on_job_start(self, config, **kwargs) -> None: ...


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
@user_errors(exit=True)
def _hydra_main(cfg: DictConfig) -> dict:
    return run(cfg)


def main() -> int:
    _hydra_main()
    if FAILED_UNITS:
        if len(FAILED_UNITS) == UNITS_RUN[0]:
            print(f"[bench] every unit failed ({len(FAILED_UNITS)} of {UNITS_RUN[0]}): no ok rows, nothing measured; "
                  "the reasons are above and in the rows (status=failed, error); exit status 1", file=sys.stderr)
        else:
            print(f"[bench] {len(FAILED_UNITS)} of {UNITS_RUN[0]} unit(s) failed (rows with status=failed and their reason); "
                  "exit status 1", file=sys.stderr)
        return 1
    return 0
