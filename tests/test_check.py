"""The CI regression check: baseline rows, tolerances, BD-rate drift, --update."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from bench.analysis.regression import COLUMNS
from bench.cli.check import main
from tests.conftest import ROOT
from tests.rd_synth import rows, write_sweep

CODECS = {"x265_444_10bit": 1.0, "jpeg": 1.8}


def sweep_of(tmp_path, df, name="sweep"):
    d = tmp_path / name
    shutil.rmtree(d, ignore_errors=True)
    return write_sweep(d, df)


@pytest.fixture
def base(tmp_path, capsys):
    df = rows(CODECS, n_images=2, points=(27, 37))
    s = sweep_of(tmp_path, df)
    b = tmp_path / "baselines" / "ci"
    assert main([str(s), "--baseline", str(b), "--update"]) == 0
    capsys.readouterr()
    return df, b


def grow(df, codec, factor, col="bytes"):
    df = df.copy()
    sel = df["codec"] == codec
    if col == "bytes":
        df.loc[sel, "bytes"] = (df.loc[sel, "bytes"] * factor).round().astype(int)
        df.loc[sel, "bpp"] = 8 * df.loc[sel, "bytes"] / df.loc[sel, "pixels"]
    else:
        df.loc[sel, col] = df.loc[sel, col] + factor
    return df


def test_update_writes_a_small_committable_baseline(base):
    df, b = base
    got = pd.read_csv(b / "rows.csv")
    assert list(got.columns) == COLUMNS and len(got) == 8
    meta = json.loads((b / "meta.json").read_text())
    assert meta["anchor"] == "x265_444_10bit" and meta["rows"] == 8 and "tolerances" in meta


def test_identical_sweep_passes(tmp_path, base, capsys):
    df, b = base
    assert main([str(sweep_of(tmp_path, df, "again")), "--baseline", str(b)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "all 8 within tolerance" in out


def test_one_codec_growing_fails_with_a_readable_diff(tmp_path, base, capsys):
    df, b = base
    s = sweep_of(tmp_path, grow(df, "jpeg", 1.02), "grown")
    assert main([str(s), "--baseline", str(b)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "--update" in out
    lines = [l for l in out.splitlines() if l.startswith("WORSE") and "bytes" in l]
    assert len(lines) == 4 and all(" jpeg " in l for l in lines)  # only the grown codec's rows
    assert "+2.00 %" in lines[0]
    bd = [l for l in out.splitlines() if l.startswith("WORSE") and "bytes" not in l]
    assert len(bd) == 2 and all("+3.598" in l for l in bd)  # its BD-rate drift on both metrics


def test_a_single_byte_counts_for_cpu_codecs_and_shrinking_fails_too(tmp_path, base, capsys):
    df, b = base
    one = df.copy()
    one.loc[one.index[0], "bytes"] += 1
    assert main([str(sweep_of(tmp_path, one, "one")), "--baseline", str(b)]) == 1
    assert main([str(sweep_of(tmp_path, grow(df, "x265_444_10bit", 0.95), "shrunk")), "--baseline", str(b)]) == 1
    assert "CHANGED" in capsys.readouterr().out


def test_bytes_tolerance_per_codec_and_bd_drift(tmp_path, base, capsys):
    df, b = base
    s = sweep_of(tmp_path, grow(df, "jpeg", 1.02), "grown")
    # bytes within jpeg's tolerance, but its BD-rate against the anchor drifts by ~3.6 points
    assert main([str(s), "--baseline", str(b), "--bpp-tol", "jpeg=0.05"]) == 1
    out = capsys.readouterr().out
    assert "rows: all 8 within tolerance" in out and "1 BD-rate drift" not in out and "BD-rate drift(s)" in out
    assert main([str(s), "--baseline", str(b), "--bpp-tol", "jpeg=0.05", "--bd-tol", "10"]) == 0


def test_metric_tolerance(tmp_path, base, capsys):
    df, b = base
    s = sweep_of(tmp_path, grow(df, "x265_444_10bit", -0.01, col="psnr_rgb"), "psnr")
    assert main([str(s), "--baseline", str(b), "--bd-tol", "100"]) == 1
    assert "psnr_rgb -0.0100" in capsys.readouterr().out
    assert main([str(s), "--baseline", str(b), "--bd-tol", "100", "--metric-tol", "psnr_rgb=0.05"]) == 0


def test_missing_and_new_rows_fail(tmp_path, base, capsys):
    df, b = base
    assert main([str(sweep_of(tmp_path, df[df["point"] != 37], "fewer")), "--baseline", str(b), "--bd-tol", "100"]) == 1
    assert "MISSING" in capsys.readouterr().out
    extra = pd.concat([df, rows({"webp": 1.5}, n_images=2, points=(50, 90))])
    assert main([str(sweep_of(tmp_path, extra, "more")), "--baseline", str(b)]) == 1
    assert "NEW" in capsys.readouterr().out


def test_update_rewrites_the_baseline_on_purpose(tmp_path, base, capsys):
    df, b = base
    s = sweep_of(tmp_path, grow(df, "jpeg", 1.02), "grown")
    assert main([str(s), "--baseline", str(b), "--update"]) == 0
    assert "UPDATE" in capsys.readouterr().out
    assert main([str(s), "--baseline", str(b)]) == 0
    got = pd.read_csv(b / "rows.csv")
    assert got.loc[got.codec == "jpeg", "bytes"].tolist() == grow(df, "jpeg", 1.02).query("codec == 'jpeg'").sort_values(["image", "point"])["bytes"].tolist()


def test_committed_tolerances_are_used(tmp_path, base):
    df, b = base
    meta = json.loads((b / "meta.json").read_text())
    meta["tolerances"] = {"bpp_rel": {"jpeg": 0.05}, "bd_points": 10}
    (b / "meta.json").write_text(json.dumps(meta))
    assert main([str(sweep_of(tmp_path, grow(df, "jpeg", 1.02), "grown")), "--baseline", str(b)]) == 0


def test_usage_errors(tmp_path, base):
    df, b = base
    assert main([str(tmp_path / "nothing"), "--baseline", str(b)]) == 2
    assert main([str(sweep_of(tmp_path, df, "x")), "--baseline", str(tmp_path / "no_baseline")]) == 2


def test_committed_ci_baseline_matches_the_ci_sweep():
    """results/baselines/ci/ is committed and covers what scripts/ci_regression.sh runs."""
    got = pd.read_csv(ROOT / "results" / "baselines" / "ci" / "rows.csv", dtype={"point": str})
    assert list(got.columns) == COLUMNS
    assert set(got["codec"]) >= {"x265_444_10bit", "jpeg"} and set(got["image"]) == {"chelsea", "coffee"}
    assert got.groupby("codec")["point"].nunique().min() == 2
    script = (ROOT / "scripts" / "ci_regression.sh").read_text()
    assert "results/baselines/ci" in script and "dataset=ci" in script
    assert "ci_regression.sh" in (ROOT / ".ci" / "run").read_text()
