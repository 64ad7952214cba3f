"""Class 8 of issue 9: exit codes and messages.  0 ok; 1 a sweep with failed units (saying so, and
whether every unit failed) or a failed check; 2 a user error, always one `error: ...` line on stderr
and never a traceback: a missing ffmpeg, a read-only results folder, an analysis of a sweep in which
every unit failed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from tests.edge_cases import photo
from tests.helpers import ROOT, bench_cli


def error_line(proc) -> str:
    """The one line a user error prints (Hydra's own log lines start with '[')."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("[")]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def all_failed(tmp_path_factory):
    """A sweep folder in which every unit failed (two files that are not pictures), and its run."""
    tmp = tmp_path_factory.mktemp("allfailed")
    d = tmp / "img"
    d.mkdir()
    (d / "x.png").write_bytes(b"not a png")
    (d / "y.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    proc = bench_cli(["dataset=folder", f"dataset.root={d}", "codec=jpeg", "codec.points=[30,60]", f"results_root={tmp / 'res'}",
                      "sweep=t"], ROOT)
    return tmp / "res" / "t", proc


def test_a_sweep_where_every_unit_failed_says_so_and_exits_1(all_failed):
    _, proc = all_failed
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "[bench] every unit failed (4 of 4): no ok rows" in proc.stderr
    assert "report not written: " in proc.stderr and "no ok rows (all 4 failed)" in proc.stderr
    assert "KeyError" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [["report"], ["bd"], ["perception"], ["published", "export"]])
def test_analyses_of_a_sweep_without_ok_rows_are_one_line(all_failed, command):
    sweep_dir, _ = all_failed
    assert "no ok rows (all 4 failed)" in error_line(bench_cli([*command, str(sweep_dir)], ROOT))


def test_the_check_of_a_sweep_without_ok_rows_writes_no_baseline(all_failed, tmp_path):
    sweep_dir, _ = all_failed
    line = error_line(bench_cli(["check", str(sweep_dir), "--baseline", str(tmp_path / "b"), "--update"], ROOT))
    assert "no ok rows" in line and not (tmp_path / "b" / "rows.csv").exists()


def test_some_failed_units_exit_1_and_count_them(tmp_path):
    d = tmp_path / "img"
    d.mkdir()
    Image.fromarray(photo()).save(d / "good.png")
    (d / "bad.png").write_bytes(b"nope")
    proc = bench_cli(["dataset=folder", f"dataset.root={d}", "codec=jpeg", "codec.points=[50]", f"results_root={tmp_path}",
                      "sweep=t", "plot=false"], ROOT)
    assert proc.returncode == 1 and "[bench] 1 of 2 unit(s) failed" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("extra", [["codec=x265_444_10bit"], ["codec=vvenc_420_10bit"], ["codec=jpegxl"],
                                   ["codec=jpeg", "metrics=[psnr,vmaf]"]])
def test_a_missing_ffmpeg_is_one_line_and_exit_2(tmp_path, extra):
    d = tmp_path / "img"
    d.mkdir()
    Image.fromarray(photo()).save(d / "p.png")
    proc = bench_cli(["dataset=folder", f"dataset.root={d}", f"results_root={tmp_path / 'res'}", "sweep=t", *extra], ROOT,
                     env={"BENCH_FFMPEG": "/nonexistent"})
    assert error_line(proc) == "error: ffmpeg: BENCH_FFMPEG=/nonexistent is not an executable file"
    assert not list((tmp_path / "res").rglob("rows/*.json"))


@pytest.fixture
def make_read_only():
    """Make a folder (with what it holds) unwritable to everyone, root included: chmod for a normal user, a
    read-only bind mount for root (whom permissions do not stop); skip where neither can be made."""
    done = []

    def make(folder: Path) -> Path:
        if os.geteuid() != 0:
            for p in [folder, *folder.rglob("*")]:
                p.chmod(0o555 if p.is_dir() else 0o444)
            done.append(("chmod", folder))
            return folder
        if not shutil.which("mount") or subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)],
                                                       capture_output=True).returncode != 0:
            pytest.skip("running as root without permission to make a read-only bind mount")
        done.append(("mount", folder))
        return folder

    yield make
    for how, folder in done:
        if how == "mount":
            subprocess.run(["umount", str(folder)], check=False)
        else:
            for p in [folder, *folder.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)


@pytest.fixture
def read_only_dir(make_read_only):
    base = Path(tempfile.mkdtemp(prefix="bench-ro-"))
    ro = base / "ro"
    ro.mkdir()
    yield make_read_only(ro)
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("mode", ["multirun", "run"])
def test_a_read_only_results_folder_is_one_line_and_exit_2(tmp_path, read_only_dir, mode):
    d = tmp_path / "img"
    d.mkdir()
    Image.fromarray(photo()).save(d / "p.png")
    args = ["dataset=folder", f"dataset.root={d}", "codec=jpeg", f"results_root={read_only_dir}", "sweep=t"]
    if mode == "run":
        args += ["hydra.mode=RUN"]
    line = error_line(bench_cli(args, ROOT))
    assert line.startswith(f"error: cannot write results in {read_only_dir}/t")


def test_a_sweep_folder_that_turns_read_only_is_one_line(tmp_path, read_only_dir):
    """Library use (no Hydra callback): the job itself checks its rows folder before any unit."""
    from bench.cli.sweep import run
    from bench.core.errors import BenchError
    from tests.helpers import compose

    d = tmp_path / "img"
    d.mkdir()
    Image.fromarray(photo()).save(d / "p.png")
    with pytest.raises(BenchError, match=f"cannot write results in {read_only_dir}/t/rows"):
        run(compose(["dataset=folder", f"dataset.root={d}", "codec=jpeg", f"results_root={read_only_dir}", "sweep=t",
                     "workers=1", "plot=false"]))


def test_rebuilding_the_tables_of_a_read_only_sweep_folder_is_one_line(tmp_path, make_read_only):
    from tests.rd_synth import rows, write_sweep

    d = write_sweep(tmp_path / "s", rows(n_images=2))
    make_read_only(d)
    line = error_line(bench_cli(["table", str(d)], ROOT))
    assert str(d) in line and ("Read-only file system" in line or "Permission denied" in line)


def test_every_user_error_of_the_commands_is_one_line(tmp_path):
    for args in (["table", str(tmp_path / "nope")], ["report", str(tmp_path / "nope")], ["bd", str(tmp_path / "nope")],
                 ["perception", str(tmp_path / "nope")], ["check", str(tmp_path / "nope"), "--baseline", str(tmp_path)],
                 ["codec=jpeg", "workers=abc"], ["codec=jpeg", "codec.points=[abc]"]):
        error_line(bench_cli(args, tmp_path))
