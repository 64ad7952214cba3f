"""Class 3 of issue 9: hostile checkpoints, hung units and dead workers.  Weights that are not finite
are refused at load with one line; a unit past its time limit (`unit_timeout`) and a worker killed
from outside become failed rows naming the unit, and the sweep goes on, with workers=1 as with more."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from PIL import Image

from bench.cli.sweep import run
from bench.codecs.learned.models import load_checkpoint
from bench.core.errors import BenchError
from tests.edge_cases import FAULTS, hostile_checkpoint, photo
from tests.helpers import ROOT, compose


def pictures(folder, n=2, h=40, w=48):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(photo(h, w, i)).save(folder / f"p{i}.png")
    return folder


def faulty_sweep(tmp_path, fault, workers=1, timeout=3, points="[1,2,3]", on_point=2, n=2):
    d = pictures(tmp_path / "img", n)
    t0 = time.monotonic()
    res = run(compose(["dataset=folder", f"dataset.root={d}", "codec=identity", f"codec.adapter={FAULTS}:Faulty",
                       f"+codec.params.fault={fault}", f"+codec.params.on_point={on_point}", f"codec.points={points}",
                       f"results_root={tmp_path / 'res'}", "sweep=t", f"workers={workers}", "plot=false",
                       f"unit_timeout={timeout}"]))
    took = time.monotonic() - t0
    df = pd.read_parquet(tmp_path / "res/t/results.parquet")
    return res, df, took


# ------------------------------------------------------------------------------ checkpoints


@pytest.mark.parametrize("part", ["g_a", "g_s"], ids=["encoder", "decoder"])
@pytest.mark.parametrize("how", ["nan", "inf"])
def test_non_finite_weights_are_refused_at_load_in_one_line(tmp_path, part, how):
    path = hostile_checkpoint(tmp_path / "bad.pth.tar", part, how)
    with pytest.raises(BenchError, match=rf"1 tensor\(s\) hold NaN or infinite values \({part}\.0\.weight\); refusing") as e:
        load_checkpoint(path, "bmshj2018-hyperprior")
    assert "\n" not in str(e.value)


def learned_sweep(tmp_path, ckpt, timeout=600):
    d = pictures(tmp_path / "img", 1, 64, 64)
    good = next((ROOT / "codecs" / "demo").glob("*lambda0.0067.pth.tar"))
    t0 = time.monotonic()
    run(compose(["dataset=folder", f"dataset.root={d}", "codec=compressai_checkpoint", "codec.name=hostile",
                 f"+codec.params.checkpoints={{1: {good}, 2: {ckpt}}}", "codec.points=[1,2]", "codec.params.device=cpu",
                 f"results_root={tmp_path / 'res'}", "sweep=t", "workers=1", "plot=false", f"unit_timeout={timeout}"]))
    df = pd.read_parquet(tmp_path / "res/t/results.parquet").set_index("point")
    return df, time.monotonic() - t0


@pytest.mark.parametrize("part", ["g_a", "g_s"], ids=["encoder", "decoder"])
def test_nan_weights_in_a_sweep_are_failed_rows_not_a_hang_or_an_ok_row(tmp_path, part):
    df, took = learned_sweep(tmp_path, hostile_checkpoint(tmp_path / "nan.pth.tar", part, "nan"))
    assert df.loc[1, "status"] == "ok"  # the good checkpoint's unit is unaffected
    assert df.loc[2, "status"] == "failed" and "hold NaN or infinite values" in df.loc[2, "error"]
    assert took < 120


def test_overflowing_encoder_weights_hang_the_entropy_coder_and_the_time_limit_ends_it(tmp_path):
    """Finite weights x 1e38 pass the load check, overflow to inf activations and spin CompressAI's C++
    entropy coder forever (measured: the same call never returns).  A signal cannot reach Python there,
    so only killing the worker ends it."""
    # 15 s: the first unit of a fresh worker also imports torch and CompressAI (seconds on a loaded machine)
    df, took = learned_sweep(tmp_path, hostile_checkpoint(tmp_path / "big.pth.tar", "g_a", "overflow"), timeout=15)
    assert df.loc[1, "status"] == "ok"
    assert df.loc[2, "status"] == "failed" and "ran past its time limit of 15 s (unit_timeout)" in df.loc[2, "error"]
    assert took < 120


def test_overflowing_decoder_weights_fail_the_unit_instead_of_an_ok_row_at_4_db(tmp_path):
    df, _ = learned_sweep(tmp_path, hostile_checkpoint(tmp_path / "big.pth.tar", "g_s", "overflow"))
    assert df.loc[2, "status"] == "failed" and "NaN or infinite values" in df.loc[2, "error"]


# ------------------------------------------------------------------------------ hung units


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sleeping_unit_becomes_a_failed_row_and_the_sweep_goes_on(tmp_path, workers):
    res, df, took = faulty_sweep(tmp_path, "sleep", workers=workers)
    bad = df[df.status == "failed"]
    assert len(df) == 6 and len(bad) == 2 and set(bad.point) == {2}
    assert bad.error.str.startswith("TimeoutError: the unit ran past its time limit of 3 s (unit_timeout)").all()
    assert res["failed"] == 2 and took < 60  # not the 600 s the unit would sleep


def test_a_unit_stuck_where_signals_do_not_reach_is_killed_too(tmp_path):
    _, df, took = faulty_sweep(tmp_path, "hang", n=1)
    row = df[df.point == 2].iloc[0]
    assert row.status == "failed" and "time limit" in row.error and took < 60
    assert (df[df.point != 2].status == "ok").all()


def test_a_stuck_encoder_process_is_killed_at_the_limit_by_the_worker_itself(tmp_path):
    _, df, _ = faulty_sweep(tmp_path, "subprocess", n=1)
    row = df[df.point == 2].iloc[0]
    assert row.status == "failed"
    assert row.error == "TimeoutError: a stuck encoder was still running at the unit's time limit (unit_timeout) and was killed"
    out = subprocess.run(["pgrep", "-f", "^sleep 600$"], capture_output=True, text=True)
    assert out.stdout.strip() == ""  # no orphan left running


def test_an_ordinary_error_is_a_failed_row_with_its_reason(tmp_path):
    _, df, _ = faulty_sweep(tmp_path, "raise", n=1)
    assert df[df.point == 2].error.tolist() == ["RuntimeError: injected encoder failure"]


# ------------------------------------------------------------------------------ dead workers


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_killed_by_sigkill_is_a_failed_row_naming_its_unit(tmp_path, workers, capsys):
    res, df, _ = faulty_sweep(tmp_path, "kill", workers=workers)
    bad = df[df.status == "failed"]
    assert len(df) == 6 and sorted(bad.image) == ["p0", "p1"] and set(bad.point) == {2}
    assert bad.error.str.contains("WorkerDied: the worker process running this unit ended \\(killed by SIGKILL").all()
    assert (df[df.point != 2].status == "ok").all()  # and the sweep went on
    err = capsys.readouterr().err
    assert "[bench] failed: identity p0 point=2: WorkerDied" in err and "BrokenProcessPool" not in err


def test_a_worker_killed_from_outside_mid_sweep(tmp_path):
    """The out-of-memory killer's way: SIGKILL to a worker of a running `bench`.  The unit it ran is a
    failed row naming it, the other units finish, the command exits 1 with no traceback."""
    psutil = pytest.importorskip("psutil", reason="psutil finds the worker process")
    d = pictures(tmp_path / "img", 2)
    args = ["dataset=folder", f"dataset.root={d}", "codec=identity", f"codec.adapter={FAULTS}:Faulty",
            "+codec.params.fault=sleep", "+codec.params.on_point=2", "codec.points=[1,2,3]", f"results_root={tmp_path / 'res'}",
            "sweep=t", "workers=1", "plot=false", "unit_timeout=5"]
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    rows_dir = tmp_path / "res/t/rows"
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        time.sleep(0.05)
        if not rows_dir.is_dir() or not any(rows_dir.glob("*.json")):
            continue  # kill once the first unit is done: mid-sweep, in a worker that is running the next one
        try:  # the workers are the children of the pool's fork server, a child of `bench`
            servers = [c for c in psutil.Process(proc.pid).children() if "forkserver" in " ".join(c.cmdline())]
            workers = [w for s in servers for w in s.children() if w.status() != psutil.STATUS_ZOMBIE]
        except psutil.Error:
            continue
        victim = workers[0] if workers else None
    assert victim is not None, "no worker found"
    os.kill(victim.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err[-2000:]
    rows = [json.loads(p.read_text()) for p in rows_dir.glob("*.json")]
    killed = [r for r in rows if "killed by SIGKILL" in r["error"]]
    assert len(rows) == 6 and len(killed) == 1 and killed[0]["status"] == "failed"
    assert all(r["status"] == "ok" or r is killed[0] or (r["point"] == 2 and "time limit" in r["error"]) for r in rows)
    assert "Traceback" not in err and "BrokenProcessPool" not in err
    assert f"identity {killed[0]['image']} point={killed[0]['point']}: WorkerDied" in err


def test_a_script_running_a_sweep_without_a_main_guard_is_one_clear_error(tmp_path):
    """Workers come from a fork server, which imports a main script again in every worker: without the
    guard each worker would start the sweep again and the pool would restart dying workers forever."""
    code = "from bench.sweep.runner import _context\n_context()\nprint('started')\n"
    bare = tmp_path / "bare.py"
    bare.write_text(code)
    guarded = tmp_path / "guarded.py"
    guarded.write_text("if __name__ == '__main__':\n" + "".join(f"    {line}\n" for line in code.splitlines()))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(bare)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and f'{bare} runs a sweep without `if __name__ == "__main__":`' in proc.stderr
    proc = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "started", proc.stderr[-1000:]
