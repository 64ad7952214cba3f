"""Class 6 of issue 9: the CI check never passes falsely.  NaN is never within a tolerance, so a
missing or non-finite baseline value or tolerance is refused (one line, exit 2), a corrupt baseline
is one line and exit 2 (not a traceback and exit 1, the code of a real regression), and a sweep
value that cannot be compared fails its row."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest

from bench.cli.check import main
from tests.rd_synth import rows, write_sweep

CODECS = {"x265_444_10bit": 1.0, "jpeg": 1.8}


@pytest.fixture
def base(tmp_path, capsys):
    df = rows(CODECS, n_images=2, points=(27, 37))
    s = write_sweep(tmp_path / "sweep", df)
    b = tmp_path / "baseline"
    assert main([str(s), "--baseline", str(b), "--update"]) == 0
    capsys.readouterr()
    return df, s, b


def changed_bytes(tmp_path, df):
    grown = df.copy()
    sel = grown.codec == "jpeg"
    grown.loc[sel, "bytes"] = grown.loc[sel, "bytes"] * 2
    grown.loc[sel, "bpp"] = grown.loc[sel, "bpp"] * 2
    return write_sweep(tmp_path / "grown", grown)


def one_line_exit_2(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], err
    assert "PASS" not in err


def edit_rows(b, fn):
    rows_csv = b / "rows.csv"
    df = pd.read_csv(rows_csv, dtype=str, keep_default_na=False)
    fn(df)
    df.to_csv(rows_csv, index=False)


@pytest.mark.parametrize("cell,column,match", [
    ("", "bytes", "bytes nan"),
    ("nan", "bytes", "bytes nan"),
    ("abc", "bytes", "bytes abc"),
    ("0", "bytes", "bytes 0"),
    ("12.5", "bytes", "bytes 12.5"),
    ("", "bpp", "bpp"),
    ("inf", "bpp", "bpp"),
    ("", "psnr_rgb", "psnr_rgb"),
    ("nan", "ms_ssim_rgb_db", "ms_ssim_rgb_db"),
    ("-inf", "psnr_rgb", "psnr_rgb"),
    ("", "codec", "no codec"),
])
def test_a_missing_or_non_finite_baseline_value_is_refused(tmp_path, base, capsys, cell, column, match):
    df, _, b = base
    def spoil(rows_df):
        rows_df.loc[0, column] = cell
    edit_rows(b, spoil)
    # the sweep really changed: the old check compared NaN with it and printed PASS
    one_line_exit_2(capsys, [str(changed_bytes(tmp_path, df)), "--baseline", str(b)], match)


def test_a_key_listed_twice_in_the_baseline_is_refused(tmp_path, base, capsys):
    df, s, b = base
    edit_rows(b, lambda rows_df: rows_df.loc.__setitem__(1, rows_df.loc[0].copy()))
    one_line_exit_2(capsys, [str(s), "--baseline", str(b)], "listed twice")


@pytest.mark.parametrize("option", [["--bpp-tol", "nan"], ["--bpp-tol", "jpeg=nan"], ["--bpp-tol", "inf"], ["--bpp-tol", "-0.1"],
                                    ["--metric-tol", "nan"], ["--metric-tol", "psnr_rgb=nan"], ["--bd-tol", "nan"],
                                    ["--bd-tol", "inf"], ["--bd-tol", "-1"], ["--bpp-tol", "jpeg=abc"]])
def test_a_nan_or_negative_tolerance_on_the_command_line_is_refused(tmp_path, base, capsys, option):
    df, _, b = base
    one_line_exit_2(capsys, [str(changed_bytes(tmp_path, df)), "--baseline", str(b), *option], option[1].split("=")[-1])


@pytest.mark.parametrize("tolerances,match", [
    ('{"bpp_rel": {"jpeg": NaN}}', "nan"),
    ('{"metric_abs": {"psnr_rgb": NaN}}', "nan"),
    ('{"bd_points": NaN}', "nan"),
    ('{"bd_points": "a lot"}', "a lot"),
    ('{"bpp_rel": 0.5}', "tolerances must be"),
    ('[1]', "tolerances must be"),
])
def test_a_nan_or_malformed_tolerance_in_meta_json_is_refused(tmp_path, base, capsys, tolerances, match):
    df, _, b = base
    meta = (b / "meta.json").read_text()
    (b / "meta.json").write_text(json.dumps({**json.loads(meta), "tolerances": "X"}).replace('"X"', tolerances))
    one_line_exit_2(capsys, [str(changed_bytes(tmp_path, df)), "--baseline", str(b)], match)


@pytest.mark.parametrize("rows_csv,meta,match", [
    (b"\x00\xff\xfe garbage \x00", None, "cannot be read as CSV"),
    (b"", None, "cannot be read as CSV"),
    (b"a,b\n1,2\n", None, "lacks the column(s)"),
    (None, b"{not json", "is not valid JSON"),
    (None, b"[1, 2]", "is not a JSON object"),
    (None, b'{"anchor": 7}', "anchor 7 is not a codec name"),
])
def test_a_corrupt_baseline_is_one_line_and_exit_2(tmp_path, base, capsys, rows_csv, meta, match):
    _, s, b = base
    if rows_csv is not None:
        (b / "rows.csv").write_bytes(rows_csv)
    if meta is not None:
        (b / "meta.json").write_bytes(meta)
    one_line_exit_2(capsys, [str(s), "--baseline", str(b)], match)


def test_update_rewrites_a_corrupt_baseline(tmp_path, base, capsys):
    _, s, b = base
    (b / "rows.csv").write_bytes(b"garbage")
    assert main([str(s), "--baseline", str(b), "--update"]) == 0
    assert "not usable" in capsys.readouterr().out
    assert main([str(s), "--baseline", str(b)]) == 0


def test_a_nan_in_the_sweep_fails_its_row(tmp_path, base, capsys):
    df, _, b = base
    nan = df.copy()
    nan.loc[0, "ms_ssim_rgb_db"] = math.nan
    assert main([str(write_sweep(tmp_path / "nan", nan)), "--baseline", str(b)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "ms_ssim_rgb_db" in out and "cannot be compared" in out


def test_update_refuses_to_write_a_baseline_the_check_would_refuse(tmp_path, capsys):
    df = rows(CODECS, n_images=2, points=(27, 37))
    df.loc[0, "ms_ssim_rgb_db"] = math.nan  # e.g. a picture too small for MS-SSIM
    s = write_sweep(tmp_path / "s", df)
    one_line_exit_2(capsys, [str(s), "--baseline", str(tmp_path / "b"), "--update"], "ms_ssim_rgb_db")
    assert not (tmp_path / "b" / "rows.csv").exists()


def test_a_lossless_rows_infinity_matches_only_itself(tmp_path, capsys):
    df = rows(CODECS, n_images=2, points=(27, 37))
    df.loc[df.codec == "jpeg", "psnr_rgb"] = math.inf
    s = write_sweep(tmp_path / "s", df)
    b = tmp_path / "b"
    assert main([str(s), "--baseline", str(b), "--update", "--bd-tol", "1000"]) == 0
    assert main([str(write_sweep(tmp_path / "again", df)), "--baseline", str(b), "--bd-tol", "1000"]) == 0
    lossy = df.copy()
    lossy.loc[lossy.index[-1], "psnr_rgb"] = 60.0
    capsys.readouterr()
    assert main([str(write_sweep(tmp_path / "lossy", lossy)), "--baseline", str(b), "--bd-tol", "1000"]) == 1
    assert "psnr_rgb -inf" in capsys.readouterr().out
    shutil.rmtree(tmp_path / "lossy")
