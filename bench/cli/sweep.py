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
import os
import shutil
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
from bench.core.provenance import pip_freeze
from bench.results.store import RowStore

FAILED_UNITS: list[str] = []  # over every job of this process: a sweep with failed units exits 1
UNITS_RUN: list[int] = [0]  # units run by every job of this process (to say "every unit failed")
# Set while a ReportCallback is active (a multirun or run it watches): the jobs leave the tables, plots
# and report to it, once after the last job, instead of rebuilding them after every job.  An
# environment variable so that the jobs of launchers running in other processes see it too.
DEFER_ENV = "BENCH_DERIVED_AT_END"


def _write_run_record(run_dir: Path, store: RowStore) -> None:
    """Beside Hydra's .hydra/config.yaml: code version, packages and host of this job (provenance.json,
    with the id of the sweep's provenance record) and `pip freeze`.  pip freeze (about a second) runs
    once per environment: its output is kept beside the sweep's provenance record, whose id changes
    with any installed distribution (`environment_digest`), and copied from there."""
    from bench.sweep.units import provenance_record

    record = provenance_record()
    pid = store.write_provenance(record)
    full = {**record, "packages": json.loads(record["packages"]), "provenance": pid}
    atomic_write_bytes(run_dir / "provenance.json", json.dumps(full, indent=1).encode())
    freeze = store.dir / "provenance" / f"{pid}.pip-freeze.txt"
    if not freeze.is_file():
        atomic_write_bytes(freeze, pip_freeze().encode())
    shutil.copyfile(freeze, run_dir / "pip-freeze.txt")


def run(cfg: DictConfig) -> dict:
    """One job: its units, then (unless a ReportCallback rebuilds them once at the end) the sweep
    folder's tables and RD plots, when the rows changed.  Library and test entry."""
    store = RowStore(Path(str(cfg.out_dir)))
    try:
        run_dir = Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # called outside Hydra (tests, library use)
        run_dir = None
    if run_dir is not None:
        _write_run_record(run_dir, store)
    from bench.sweep.job import run_job

    res = run_job(cfg, log=lambda m: print(m, flush=True))
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
    if os.environ.get(DEFER_ENV) != "1" and store.rows_dir.is_dir():
        from bench.report.derived import rebuild

        done = rebuild(store.dir, plot_metrics=list(cfg.plot_metrics) if cfg.plot else [], log=print)
        _say(done)
    return {"rows": len(res.rows), "failed": len(res.failed), "wall_s": res.wall_s}


def _say(done) -> None:
    paths = done.tables
    if paths:
        print(f"[bench] table: {paths['parquet']} and {paths['csv']}; means: {paths['summary']}")
    if done.plots:
        print(f"[bench] RD plots: {', '.join(str(p) for p in done.plots if p.suffix == '.png')}")
    if done.report:
        print(f"[bench] report: {done.report} and {done.report.with_suffix('.html')}", flush=True)
    if done.up_to_date:
        print(f"[bench] {', '.join(done.up_to_date)} up to date (rows and options unchanged)", flush=True)


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
        os.environ.pop(DEFER_ENV, None)
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
                # once after every job of the multirun (jobs run by a launcher in parallel see only
                # some rows), and only what the rows or options changed
                from bench.report.derived import rebuild

                report = {"anchor": self.anchor, "published": self.published, "n_boot": self.n_boot, "metrics": self.metrics}
                if not self.panels:
                    report["panels"] = None
                _say(rebuild(d, plot_metrics=plot_metrics, report=report, log=print))
            except BenchError as exc:  # e.g. no ok rows: said in one line
                print(f"[bench] report not written: {exc}", file=sys.stderr)
            except Exception as exc:  # noqa: BLE001 - the sweep's rows stand without the report
                print(f"[bench] report not written for {d}: {type(exc).__name__}: {exc}", file=sys.stderr)

    def on_multirun_end(self, config, **kwargs) -> None:
        self._write(config)

    def on_run_end(self, config, **kwargs) -> None:
        self._write(config)

    def on_run_start(self, config, **kwargs) -> None:
        os.environ[DEFER_ENV] = "1"

    def on_multirun_start(self, config, **kwargs) -> None:
        os.environ[DEFER_ENV] = "1"

    # the rest of Hydra's callback interface
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
