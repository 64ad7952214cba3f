"""The sweep: real bytes, resumable, atomic, failures as rows, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.cli.sweep import run
from tests.helpers import ROOT, bench_cli, compose, write_photos


def overrides(tmp_path, photos, codec="jpeg", extra=()):
    return [f"dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", f"codec={codec}",
            f"results_root={tmp_path / 'results'}", "sweep=t", "workers=1", "plot=false", *extra]


def test_rows_count_real_bytes_over_original_pixels(tmp_path):
    photos = write_photos(tmp_path / "img")
    cfg = compose(overrides(tmp_path, photos, "x265_420_10bit", ["codec.points=[27,37]", "codec.params.preset=ultrafast"]))
    run(cfg)
    df = pd.read_parquet(tmp_path / "results/t/results.parquet")
    assert len(df) == 4 and (df.status == "ok").all()
    for r in df.itertuples():
        f = tmp_path / "results/t" / r.bitstream
        assert f.stat().st_size == r.bytes
        assert r.bpp == pytest.approx(8 * r.bytes / (r.width * r.height), rel=1e-12)
    odd = df[df.image == "p1"].iloc[0]
    assert (odd.width, odd.height) == (97, 65)  # original pixels, not the padded 98x66
    assert odd.colour_chroma == "420" and odd.colour_matrix == "bt709" and odd.colour_bit_depth == 10
    assert "libx265" in odd.encode_command and "-tune psnr" in odd.encode_command
    assert "libx265" in odd.encoder and "ffmpeg version" in odd.encoder
    assert set(["psnr_rgb", "psnr_y", "psnr_yuv", "ms_ssim_rgb", "ms_ssim_rgb_db", "encode_s", "decode_s", "packages", "host"]) <= set(df.columns)
    # higher QP, fewer bytes
    for _, g in df.groupby("image"):
        assert g.sort_values("point").bytes.is_monotonic_decreasing
    summary = pd.read_csv(tmp_path / "results/t/summary.csv")
    assert summary.loc[summary.point == 27, "bpp"].item() == pytest.approx(df[df.point == 27].bpp.mean())


def test_rerun_skips_finished_rows_and_redoes_failed_ones(tmp_path):
    photos = write_photos(tmp_path / "img")
    (photos / "broken.png").write_bytes(b"not a png at all")
    cfg = compose(overrides(tmp_path, photos, extra=["codec.points=[40,80]"]))
    first = run(cfg)
    assert first == {"rows": 6, "failed": 2, "wall_s": pytest.approx(first["wall_s"])}
    df = pd.read_parquet(tmp_path / "results/t/results.parquet")
    bad = df[df.image == "broken"]
    assert (bad.status == "failed").all() and bad.error.str.contains("cannot read image").all()
    rows = sorted((tmp_path / "results/t/rows").glob("*.json"))
    stamps = {p: p.stat().st_mtime_ns for p in rows}
    second = run(cfg)
    assert second["rows"] == 2 and second["failed"] == 2  # only the failed units ran again
    ok_rows = [p for p in rows if json.loads(p.read_text())["status"] == "ok"]
    assert all(p.stat().st_mtime_ns == stamps[p] for p in ok_rows)


def test_sigkill_mid_sweep_loses_nothing_and_recomputes_nothing(tmp_path):
    photos = write_photos(tmp_path / "img", sizes=[(128, 160)] * 1 + [(96, 128)] * 1)
    args = overrides(tmp_path, photos, "x265_444_10bit", ["codec.points=[20,22,24,26,28,30,32,34,36,38,40,42]",
                                                          "codec.params.preset=slow"])
    rows_dir = tmp_path / "results/t/rows"
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(rows_dir.glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in rows_dir.glob("*.json")}
    assert 3 <= len(finished) < 24, "kill must land mid-sweep"
    for name in finished:  # every row on disk is complete JSON (atomic writes)
        assert json.loads((rows_dir / name).read_text())["status"] == "ok"
    res = bench_cli(args, ROOT)
    assert res.returncode == 0, res.stderr
    assert f"{len(finished)} done before, {24 - len(finished)} to run" in res.stdout
    assert all((rows_dir / n).stat().st_mtime_ns == t for n, t in finished.items())
    assert len(pd.read_parquet(tmp_path / "results/t/results.parquet")) == 24
    assert not list(rows_dir.glob(".*.tmp"))


def test_missing_encoder_is_one_clear_line(tmp_path):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'ffmpeg version fake'\n")
    fake.chmod(0o755)
    photos = write_photos(tmp_path / "img")
    res = bench_cli(overrides(tmp_path, photos, "x265_444_10bit"), ROOT, env={"BENCH_FFMPEG": str(fake)})
    assert res.returncode == 2
    err = [line for line in res.stderr.splitlines() if line.strip()]
    assert err == [f"error: x265: {fake} has no libx265 encoder; install imageio-ffmpeg==0.8.1 or set BENCH_FFMPEG"]


def test_unknown_config_key_is_rejected(tmp_path):
    photos = write_photos(tmp_path / "img")
    res = bench_cli(overrides(tmp_path, photos, "jpeg", ["codec.params.qualty=3"]), ROOT)
    assert res.returncode != 0 and "qualty" in res.stderr and "Traceback" not in res.stderr
    res = bench_cli(overrides(tmp_path, photos, "jpeg", ["+codec.params.qualty=3"]), ROOT)
    assert res.returncode == 2 and "unknown parameter(s) ['qualty']" in res.stderr and "Traceback" not in res.stderr
    res = bench_cli(overrides(tmp_path, photos, "nosuchcodec"), ROOT)
    assert res.returncode != 0 and "nosuchcodec" in res.stderr


def test_missing_dataset_folder_is_one_clear_line(tmp_path):
    res = bench_cli(["dataset=folder", f"dataset.root={tmp_path / 'nope'}", "codec=jpeg", f"results_root={tmp_path}"], ROOT)
    assert res.returncode == 2 and res.stderr.strip().splitlines()[-1] == f"error: dataset folder: {tmp_path / 'nope'} is not a directory"


def test_parallel_workers_give_the_same_rows(tmp_path):
    photos = write_photos(tmp_path / "img")
    base = overrides(tmp_path, photos, "jpeg", ["codec.points=[20,60,90]"])
    run(compose(base))
    one = pd.read_parquet(tmp_path / "results/t/results.parquet")
    run(compose([*base, "sweep=t2", "workers=2"]))
    two = pd.read_parquet(tmp_path / "results/t2/results.parquet")
    cols = ["image", "point", "bytes", "psnr_rgb", "ms_ssim_rgb"]
    pd.testing.assert_frame_equal(one[cols], two[cols])


def test_multirun_writes_one_table_and_a_plot(tmp_path):
    photos = write_photos(tmp_path / "img")
    args = ["-m", "dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", "codec=jpeg,x265_420_10bit",
            "codec.points=[30,40]", "workers=2",
            f"results_root={tmp_path / 'results'}", "sweep=m"]
    res = bench_cli(args, ROOT)
    assert res.returncode == 0, res.stderr
    df = pd.read_parquet(tmp_path / "results/m/results.parquet")
    assert set(df.codec) == {"jpeg", "x265_420_10bit"} and len(df) == 8
    assert (tmp_path / "results/m/rd_psnr_rgb.png").stat().st_size > 1000
    runs = [p for p in (tmp_path / "results/m/runs").glob("*/*") if p.is_dir()]
    assert len(runs) == 2
    for r in runs:
        assert (r / ".hydra" / "config.yaml").is_file() and (r / "pip-freeze.txt").is_file()
        assert "git_revision" in json.loads((r / "provenance.json").read_text())


def test_changed_codec_config_supersedes_old_rows(tmp_path):
    photos = write_photos(tmp_path / "img")
    run(compose(overrides(tmp_path, photos, "jpeg", ["codec.points=[50]"])))
    time.sleep(1.1)  # timestamps have one-second resolution
    run(compose(overrides(tmp_path, photos, "jpeg", ["codec.points=[50]", "codec.params.optimize=true"])))
    from bench.results.store import RowStore
    from bench.results.tables import frame

    store = RowStore(tmp_path / "results/t")
    assert len(frame(store, superseded=True)) == 4
    df = pd.read_parquet(tmp_path / "results/t/results.parquet")
    assert len(df) == 2 and df.codec_params.str.contains('"optimize": true').all()


def test_non_finite_values_survive_the_table(tmp_path):
    from bench.results.store import RowStore
    from bench.results.tables import write_tables

    store = RowStore(tmp_path)
    base = {"status": "ok", "dataset": "d", "image": "i", "codec": "c", "timestamp": "t", "bpp": 1.0, "bytes": 100}
    store.write({**base, "key": "a", "point": 1, "bpp_estimated": float("inf"), "psnr_rgb": float("inf")})
    store.write({**base, "key": "b", "point": 2, "bpp_estimated": 0.5, "psnr_rgb": 30.0})
    paths = write_tables(store)
    df = pd.read_parquet(paths["parquet"])
    assert df.bpp_estimated.dtype == float and df.bpp_estimated.tolist() == [float("inf"), 0.5]
    assert df.psnr_rgb.tolist() == [float("inf"), 30.0]
