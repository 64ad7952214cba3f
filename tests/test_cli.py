"""One command surface: `bench <command>`, each with --help, one error style, a listing of everything,
and the package's layering (no circle, no import running back up)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pandas as pd
import pytest

from bench import codecs, metrics
from bench.cli.main import COMMANDS, main
from bench.core.assets import conf_dir
from tests.helpers import ROOT, bench_cli, compose, write_photos


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out
    assert "exit status" in out


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"sweep", "train", "perf"}))
def test_every_argparse_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    assert "usage" in capsys.readouterr().out.lower()


def test_perf_lists_its_benchmarks(capsys):
    assert main(["perf", "--help"]) == 0
    assert "sweep" in capsys.readouterr().out
    assert main(["perf", "nosuch"]) == 2


def test_hydra_commands_have_help():
    for name in ("sweep", "train"):
        proc = bench_cli([name, "--help"], cwd=ROOT)
        assert proc.returncode == 0 and "== Config ==" in proc.stdout, (name, proc.stderr[-500:])


def test_a_mistyped_command_is_one_line_with_a_suggestion(capsys):
    assert main(["tabel", "results/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown command 'tabel'; did you mean 'table'?" in err


def test_user_errors_are_one_line_and_exit_2(tmp_path):
    for args in (["table", str(tmp_path / "nope")], ["bd", str(tmp_path / "nope")], ["report", str(tmp_path / "nope")],
                 ["check", str(tmp_path / "nope"), "--baseline", str(tmp_path)],
                 ["published", "show", str(tmp_path / "none.json")],
                 ["dataset=folder", f"dataset.root={tmp_path / 'missing'}", "codec=jpeg"],
                 ["codec=jpeg", "codec.adapter=x256"]):
        proc = bench_cli(args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stdout[-500:], proc.stderr[-500:])
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("[")]
        assert lines and lines[-1].startswith("error: ") and "Traceback" not in proc.stderr, (args, proc.stderr)
    assert "did you mean 'x265'" in proc.stderr


def test_ls_names_every_codec_dataset_metric_adapter_and_model(capsys):
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    for f in (conf_dir() / "codec").glob("*.yaml"):
        assert f"\n  {f.stem}  (adapter" in out, f.stem
    for f in (conf_dir() / "dataset").glob("*.yaml"):
        assert f"\n  {f.stem}  (kind" in out, f.stem
    for name in metrics.known():
        assert f"\n  {name}  " in out, name
    for name in codecs.names():
        assert f"\n  {name}  (" in out, name
    assert "bmshj2018-hyperprior" in out and "cheng2020-attn" in out
    # an adapter's parameters with the config's values and the adapter's defaults
    assert "rate point: qp (int, [0, 51])" in out and "preset = 'veryslow'" in out and "tune = 'psnr'" in out


def test_ls_reads_a_user_config_folder(tmp_path, capsys):
    (tmp_path / "codec").mkdir()
    (tmp_path / "codec" / "my_x265.yaml").write_text("# my x265\nname: my_x265\nadapter: x265\npoints: [30]\n"
                                                     "params: {preset: fast}\n")
    assert main(["ls", "codecs", "--config-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  my_x265  (adapter x265" in out and "preset = 'fast'  (default 'veryslow')" in out


def test_identity_codec_is_lossless_at_24_bpp_plus_header(tmp_path):
    from bench.cli.sweep import run

    photos = write_photos(tmp_path / "img")
    run(compose(["dataset=folder", f"dataset.root={photos}", "codec=identity", f"results_root={tmp_path}", "sweep=i",
                 "workers=1", "plot=false"]))
    df = pd.read_parquet(tmp_path / "i" / "results.parquet")
    assert (df.status == "ok").all() and len(df) == 2
    assert (df.psnr_rgb == float("inf")).all() and (df.ms_ssim_rgb == 1.0).all()
    assert (df.bytes == df.pixels * 3 + 4).all()


def test_python_m_bench_is_the_same_command():
    proc = subprocess.run([sys.executable, "-m", "bench", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.startswith("lic-bench ")


def _import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_layers_have_no_circle_and_no_import_running_back_up():
    ig = _import_graph()
    g = ig.graph(ROOT / "bench")
    assert ig.circles(g) == []
    assert ig.back_up(g) == []
    top = {m.split(".")[1] for m in g if m.count(".") >= 1 and not m.endswith("__main__")}
    unranked = {t for t in top if ig.layer(f"bench.{t}") is None}
    assert not unranked, f"subpackages without a layer in scripts/import_graph.py: {unranked}"


def test_metric_labels_and_db_forms_are_declared_only_in_the_registry():
    """One home for each metric's metadata: no module outside bench/metrics re-declares a label table
    or a dB-form table."""
    offenders = []
    for p in (ROOT / "bench").rglob("*.py"):
        if "metrics" in p.parts:
            continue
        text = p.read_text()
        for marker in ('"psnr_rgb": "PSNR', "DB_FORMS", '"ms_ssim_rgb": "ms_ssim_rgb_db"', "DEFAULT_METRICS ="):
            if marker in text:
                offenders.append((p.name, marker))
    assert offenders == []


def test_rows_record_what_identifies_the_configuration(tmp_path):
    from bench.cli.sweep import run

    photos = write_photos(tmp_path / "img", sizes=[(48, 64)])
    run(compose(["dataset=folder", f"dataset.root={photos}", "codec=demo_hyperprior", "codec.points=[3]",
                 f"results_root={tmp_path}", "sweep=d", "workers=1", "plot=false", "codec.params.device=cpu"]))
    row = json.loads(next((tmp_path / "d" / "rows").glob("*.json")).read_text())
    assert row["status"] == "ok" and len(json.loads(row["point_files"])["checkpoint"]) == 64  # a sha256, not a path


def test_submitit_launcher_runs_a_multirun_into_one_sweep_folder(tmp_path):
    """`pip install lic-bench[slurm]` brings Hydra's submitit launcher; its local executor runs each
    job in its own process, and every job writes its rows into the one shared sweep folder."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="hydra-submitit-launcher not installed (extra [slurm])")
    photos = write_photos(tmp_path / "img")
    proc = bench_cli(["-m", "hydra/launcher=submitit_local", "codec=jpeg,identity", "codec.points=[50]", "dataset=folder",
                      f"dataset.root={photos}", f"results_root={tmp_path / 'res'}", "sweep=s", "workers=1", "plot=false",
                      "hydra.launcher.timeout_min=10"], cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    df = pd.read_parquet(tmp_path / "res" / "s" / "results.parquet") if (tmp_path / "res/s/results.parquet").is_file() else None
    rows = [json.loads(p.read_text()) for p in (tmp_path / "res" / "s" / "rows").glob("*.json")]
    assert sorted(r["codec"] for r in rows) == ["identity", "identity", "jpeg", "jpeg"]
    assert all(r["status"] == "ok" for r in rows)
    assert df is not None and set(df.codec) == {"jpeg", "identity"}
    assert (tmp_path / "res" / "s" / "report.md").is_file()
