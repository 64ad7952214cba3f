"""Classes 2 and 7 of issue 9: row identity and the store.  A row is identified by dataset and picture
name as well as content, so no picture's rows vanish; a row file that is not a trustworthy row is
redone with a note; derived files are rebuilt safely by concurrent jobs; every file follows the umask."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pandas as pd
import pytest
from PIL import Image

from bench.cli.sweep import run
from bench.results.store import RowStore, row_problem
from tests.edge_cases import photo
from tests.helpers import ROOT, bench_cli, compose


def sweep(tmp_path, root, codec="jpeg", extra=()):
    return run(compose(["dataset=folder", f"dataset.root={root}", "dataset.glob=*.png", f"codec={codec}",
                        f"results_root={tmp_path / 'res'}", "sweep=t", "workers=1", "plot=false", *extra]))


# ------------------------------------------------------------------------------ class 2: row identity


def test_seven_identical_files_give_seven_rows_per_codec(tmp_path):
    d = tmp_path / "img"
    d.mkdir()
    for i in range(7):
        Image.fromarray(photo()).save(d / f"same{i}.png")  # byte-identical files
    for codec in ("jpeg", "identity"):
        sweep(tmp_path, d, codec, ["codec.points=[50]" if codec == "jpeg" else "codec.points=[0]"])
    df = pd.read_parquet(tmp_path / "res/t/results.parquet")
    assert df.groupby("codec").image.apply(sorted).to_dict() == {c: [f"same{i}" for i in range(7)] for c in ("identity", "jpeg")}
    assert df.key.nunique() == 14 and df.image_sha256.nunique() == 1
    assert df.bitstream.nunique() == 14 and all((tmp_path / "res/t" / b).is_file() for b in df.bitstream)
    summary = pd.read_csv(tmp_path / "res/t/summary.csv")
    assert summary.n_images.tolist() == [7, 7]


def test_a_second_dataset_in_the_same_sweep_folder_gets_its_rows(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, seed in ((a, 0), (b, 3)):
        d.mkdir()
        Image.fromarray(photo(seed=seed)).save(d / "p.png")  # same picture name, other content
    Image.fromarray(photo(seed=0)).save(b / "q.png")  # same content as a/p.png, other name
    sweep(tmp_path, a, extra=["codec.points=[50]", "dataset.name=first"])
    res = sweep(tmp_path, b, extra=["codec.points=[50]", "dataset.name=second"])
    assert res["rows"] == 2  # nothing of the second dataset was taken for done
    df = pd.read_parquet(tmp_path / "res/t/results.parquet")
    assert sorted(zip(df.dataset, df.image)) == [("first", "p"), ("second", "p"), ("second", "q")]
    assert (df.status == "ok").all() and df.bitstream.str.startswith(("bitstreams/first/", "bitstreams/second/")).all()
    again = sweep(tmp_path, a, extra=["codec.points=[50]", "dataset.name=first"])
    assert again["rows"] == 0  # and each dataset resumes from its own rows


# ------------------------------------------------------------------------------ class 7: the store


JUNK = {
    "a junk object with an ok status": lambda key: json.dumps({"key": key, "status": "ok"}),
    "JSON that is a list": lambda key: "[1, 2]",
    "the number 42": lambda key: "42",
    "truncated JSON": lambda key: '{"key": "' + key + '", "status": "o',
    "an ok row without its size": None,  # filled from a real row below
    "a row under another key": None,
    "an unknown status": None,
}


def spoil(real: dict, how: str) -> str:
    if JUNK[how] is not None:
        return JUNK[how](real["key"])
    if how == "an ok row without its size":
        return json.dumps({**real, "bytes": 0})
    if how == "a row under another key":
        return json.dumps({**real, "key": "0" * 24})
    return json.dumps({**real, "status": "maybe"})


def test_invalid_row_files_are_redone_with_a_note(tmp_path, capsys):
    d = tmp_path / "img"
    d.mkdir()
    Image.fromarray(photo()).save(d / "p.png")
    points = [10, 20, 30, 40, 50, 60, 70]
    sweep(tmp_path, d, extra=[f"codec.points=[{','.join(map(str, points))}]"])
    store = RowStore(tmp_path / "res/t")
    rows = sorted(store.rows(), key=lambda r: r["point"])
    for real, how in zip(rows, JUNK):
        store.path(real["key"]).write_text(spoil(real, how))
    assert len(store.invalid()) == 7 and store.rows() == []
    (store.rows_dir / "stray.json").write_text("42")  # a file no unit will ever overwrite
    capsys.readouterr()
    res = sweep(tmp_path, d, extra=[f"codec.points=[{','.join(map(str, points))}]"])
    out = capsys.readouterr()
    assert res == {"rows": 7, "failed": 0, "wall_s": pytest.approx(res["wall_s"])}
    assert "7 row file(s) not trustworthy, redone" in out.out
    assert "1 file(s) in" in out.err and "stray.json: not a JSON object (int)" in out.err
    redone = {r["point"]: r for r in store.rows()}
    assert sorted(redone) == points and all(r["status"] == "ok" for r in redone.values())
    notes = [redone[r["point"]]["redo_note"] for r in rows]
    for note, want in zip(notes, ["no 'dataset'", "not a JSON object (list)", "not a JSON object (int)",
                                  "unreadable row file (JSONDecodeError)", "an ok row with bytes=0",
                                  "is not its file name", "status 'maybe' is not one of"]):
        assert "the stored row file was not a trustworthy row" in note and want in note, (note, want)
    df = pd.read_parquet(tmp_path / "res/t/results.parquet")
    assert len(df) == 7 and (df.status == "ok").all()


def test_row_problem_names_what_is_wrong():
    good = {"key": "k", "status": "ok", "dataset": "d", "image": "i", "codec": "c", "point": 1, "bytes": 10, "bpp": 0.5}
    assert row_problem(good, "k") is None
    assert row_problem({**good, "status": "failed", "bytes": None}, "k") is None  # a failed row needs no size
    for bad, why in ((42, "not a JSON object (int)"), ([good], "not a JSON object (list)"), ({**good, "bpp": "nan"}, "bpp='nan'"),
                     ({**good, "bytes": "12x"}, "without numeric"), ({k: v for k, v in good.items() if k != "codec"}, "no 'codec'")):
        assert why in row_problem(bad, "k")


def test_a_folder_of_junk_only_is_no_crash_for_the_table_command(tmp_path):
    store = RowStore(tmp_path / "s")
    store.rows_dir.mkdir(parents=True)
    (store.rows_dir / "a.json").write_text("42")
    proc = bench_cli(["table", str(tmp_path / "s")], ROOT)
    assert proc.returncode == 0 and "0 rows" in proc.stdout and "Traceback" not in proc.stderr
    assert "1 file(s) in" in proc.stdout and "a.json: not a JSON object (int)" in proc.stdout


REBUILD = """
import sys, time
from pathlib import Path
from bench.results.store import RowStore
from bench.results.tables import frame, write_tables
from bench.report.figures import rd_plot
store = RowStore(sys.argv[1])
t_end = time.time() + float(sys.argv[2])
n = 0
while time.time() < t_end or n < 3:
    df = frame(store)
    write_tables(store, df)
    rd_plot(df, "psnr_rgb", store.dir / "rd_psnr_rgb")
    n += 1
print(n)
"""

READ = """
import sys, time
import pandas as pd
from pathlib import Path
d = Path(sys.argv[1]); t_end = time.time() + float(sys.argv[2]); n = 0
while time.time() < t_end or n < 3:
    for name in ("results.parquet", "results.csv", "summary.csv"):
        p = d / name
        df = pd.read_parquet(p) if name.endswith(".parquet") else pd.read_csv(p)
        assert len(df) > 0, name
    assert (d / "rd_psnr_rgb.png").read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    n += 1
print(n)
"""


def test_two_jobs_rebuilding_the_tables_at_once_both_succeed_and_leave_readable_files(tmp_path):
    from tests.rd_synth import rows, write_sweep

    d = write_sweep(tmp_path / "s", rows(n_images=4))
    from bench.report.figures import rd_plot
    from bench.results.tables import frame

    rd_plot(frame(RowStore(d)), "psnr_rgb", d / "rd_psnr_rgb")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(d), "8"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for code in (REBUILD, REBUILD, READ)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    counts = [int(out.strip()) for out, _ in outs]
    assert all(n >= 3 for n in counts), counts  # each rebuilt (or read) several times, overlapping
    assert len(pd.read_parquet(d / "results.parquet")) == len(rows(n_images=4))
    left = [p.name for p in d.iterdir() if p.name.startswith(".")]
    assert not left, left  # no temp file left behind


@pytest.mark.parametrize("mask", [0o002, 0o027])
def test_every_file_of_a_sweep_follows_the_umask(tmp_path, mask):
    d = tmp_path / "img"
    d.mkdir()
    Image.fromarray(photo()).save(d / "p.png")
    out = tmp_path / "res"
    proc = subprocess.run([sys.executable, "-m", "bench", "dataset=folder", f"dataset.root={d}", "codec=jpeg",
                           "codec.points=[30,70]", f"results_root={out}", "sweep=t", "workers=1"], cwd=ROOT,
                          capture_output=True, text=True, umask=mask, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    want_file, want_dir = 0o666 & ~mask, 0o777 & ~mask
    wrong = []
    for p in (out / "t").rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode != (want_dir if p.is_dir() else want_file):
            wrong.append(f"{p.relative_to(out)} {oct(mode)}")
    kinds = {p.suffix for p in (out / "t").rglob("*") if p.is_file()}
    assert {".json", ".parquet", ".csv", ".png", ".svg", ".md", ".html", ".jpg", ".txt"} <= kinds
    assert wrong == []
