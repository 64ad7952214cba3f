"""Reruns: an unchanged sweep rebuilds nothing and imports none of the heavy libraries; derived files
follow their rows and options; tables are rebuilt once per multirun.  The timed figure is
`bench perf rerun`."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.cli.sweep import DEFER_ENV, run
from bench.report.derived import rebuild
from bench.results.store import RowStore
from tests.helpers import ROOT, bench_cli, compose, write_photos


def overrides(tmp_path, photos, extra=()):
    return ["dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", "codec=jpeg", "codec.points=[40,80]",
            f"results_root={tmp_path / 'results'}", "sweep=t", "workers=1", *extra]


def stamps(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}


def test_derived_files_follow_rows_and_options(tmp_path, capsys):
    photos = write_photos(tmp_path / "img")
    run(compose(overrides(tmp_path, photos)))
    sweep = tmp_path / "results" / "t"
    before = stamps(sweep)
    assert {"results.parquet", "results.csv", "summary.csv", "rd_psnr_rgb.png", ".derived.json"} <= set(before)
    capsys.readouterr()
    assert run(compose(overrides(tmp_path, photos)))["rows"] == 0
    assert "tables, plots up to date" in capsys.readouterr().out
    assert stamps(sweep) == before
    (sweep / "results.csv").unlink()  # a missing output is rebuilt
    assert rebuild(sweep).tables and (sweep / "results.csv").is_file()
    done = rebuild(sweep, plot_metrics=["psnr_rgb", "ms_ssim_rgb_db"])  # rows unchanged, the same plots: nothing to do
    assert done.up_to_date == ["tables", "plots"] and not done.plots
    assert rebuild(sweep, plot_metrics=["psnr_y"]).plots  # another option
    run(compose(overrides(tmp_path, photos, ["codec.points=[40,80,90]"])))  # new rows
    assert json.loads((sweep / ".derived.json").read_text())
    assert stamps(sweep)["results.parquet"] != before["results.parquet"]


def test_jobs_leave_derived_files_to_the_callback_when_one_watches(tmp_path, monkeypatch):
    photos = write_photos(tmp_path / "img")
    monkeypatch.setenv(DEFER_ENV, "1")
    run(compose(overrides(tmp_path, photos)))
    sweep = tmp_path / "results" / "t"
    assert (sweep / "rows").is_dir() and not (sweep / "results.parquet").exists()


def test_multirun_rebuilds_once_and_a_rerun_imports_nothing_heavy(tmp_path):
    photos = write_photos(tmp_path / "img")
    args = ["-m", *overrides(tmp_path, photos), "codec=jpeg,webp", "+hydra.callbacks.report.n_boot=20"]
    res = bench_cli(args, ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("[bench] table:") == 1 and res.stdout.count("[bench] report:") == 1
    sweep = tmp_path / "results" / "t"
    assert len(list((sweep / "provenance").glob("*.pip-freeze.txt"))) == 1  # one pip freeze per environment
    runs = [p for p in (sweep / "runs").glob("*/*") if p.is_dir()]
    assert len(runs) == 2 and all((r / "pip-freeze.txt").read_text() for r in runs)
    before = stamps(sweep)
    code = ("import sys; from bench.cli.main import main; rc = main(sys.argv[1:]); "
            "print('HEAVY', sorted(m for m in ('torch', 'matplotlib', 'pandas', 'pyarrow', 'compressai') if m in sys.modules)); "
            "sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stdout and "tables, plots, report up to date" in res.stdout
    assert stamps(sweep) == before


def test_module_version_reads_what_the_import_says():
    import compressai
    import torch

    from bench.core.provenance import environment_digest, module_version

    assert module_version("torch") == torch.__version__ and module_version("compressai") == compressai.__version__
    assert module_version("numpy") == __import__("numpy").__version__  # no version.py: imported
    assert len(environment_digest()) == 16


def test_a_finished_sweep_needs_no_encoder_check(tmp_path, monkeypatch):
    """The codec is checked only when units will run: a finished sweep does not need it (nor its imports)."""
    from bench.codecs.pillow import PillowCodec

    photos = write_photos(tmp_path / "img")
    run(compose(overrides(tmp_path, photos)))
    calls = []
    monkeypatch.setattr(PillowCodec, "check", lambda self: calls.append(1))
    run(compose(overrides(tmp_path, photos)))
    assert calls == []
    RowStore(tmp_path / "results" / "t").path("x")  # the store still opens
    run(compose(overrides(tmp_path, photos, ["codec.points=[40,80,60]"])))
    assert calls == [1]
