"""CompressAI result JSON: import as published curves, export our averaged curves."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.analysis import published as P
from bench.core.errors import BenchError
from bench.cli.published import main as published_main
from bench.results.tables import summarize
from tests.conftest import REFERENCE
from tests.rd_synth import rows, write_sweep


def test_read_maps_keys_and_derives_ms_ssim_db(tmp_path):
    f = tmp_path / "kodak" / "x.json"
    f.parent.mkdir()
    f.write_text(json.dumps({"name": "X", "description": "d", "results": {
        "bpp": [0.2, 0.5], "psnr-rgb": [29.0, 32.0], "ms-ssim-rgb": [0.95, 0.99], "encoding_time": [1.0, None]}}))
    p = P.load(f)
    assert p.name == "X" and p.dataset == "kodak"  # no meta: the folder names the dataset
    c = p.curve
    assert list(c.columns[:4]) == ["point", "bpp", "psnr_rgb", "ms_ssim_rgb"]
    assert c["ms_ssim_rgb_db"].tolist() == pytest.approx([-10 * np.log10(0.05), -10 * np.log10(0.01)])
    assert np.isnan(c["encode_s"][1])
    assert any("dB of the published mean" in n for n in p.notes)


def test_read_db_only_paper_file(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"name": "paper", "meta": {"dataset": "kodak", "source": "paper"},
                             "results": {"bpp": [0.1, 0.3], "ms-ssim-db-rgb": [10.0, 20.0]}}))
    p = P.load(f)
    assert p.curve["ms_ssim_rgb"].tolist() == pytest.approx([0.9, 0.99])
    assert p.dataset == "kodak"


def test_not_a_result_file(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('{"name": "x"}')
    with pytest.raises(BenchError, match="not a CompressAI result file"):
        P.load(f)


def test_published_kodak_files_load():
    if not (REFERENCE / "vtm.json").is_file():
        pytest.skip(f"CompressAI published results not found at {REFERENCE}")
    vtm = P.load(REFERENCE / "vtm.json")
    assert vtm.name == "VTM" and len(vtm.curve) == 8 and vtm.dataset == "kodak"
    assert vtm.curve["psnr_rgb"].iloc[0] == pytest.approx(26.1448, abs=1e-4)
    elic = P.load(REFERENCE / "paper-elic2022_mse.json")
    assert elic.dataset == "kodak" and "ms_ssim_rgb" not in elic.curve


def test_name_clash_with_a_sweep_codec(tmp_path):
    f = tmp_path / "jpeg.json"
    f.write_text(json.dumps({"name": "jpeg", "results": {"bpp": [0.3, 1.0], "psnr-rgb": [28, 33]}}))
    a, b = P.load_many([f, f], sweep_codecs={"jpeg"})
    assert a.name == "jpeg (published)" and b.name != a.name


def test_export_round_trip(tmp_path):
    df = rows(n_images=3)
    d = P.to_compressai(df, "x265_444_10bit")
    assert d["name"] == "x265_444_10bit" and d["meta"]["source"] == "lic-bench" and d["meta"]["n_images"] == 3
    assert {"bpp", "psnr-rgb", "ms-ssim-rgb", "ms-ssim-db-rgb", "encoding_time", "decoding_time"} <= set(d["results"])
    assert d["results"]["bpp"] == sorted(d["results"]["bpp"])  # increasing rate, as CompressAI's files
    back = P.from_dict(json.loads(json.dumps(d)))
    want = summarize(df[df.codec == "x265_444_10bit"]).sort_values("bpp")
    for col in ("bpp", "psnr_rgb", "ms_ssim_rgb", "ms_ssim_rgb_db"):
        assert back.curve[col].tolist() == pytest.approx(want[col].tolist(), rel=1e-12)
    assert back.notes == []  # nothing derived: the dB values are our per-image means


def test_export_cli_writes_one_file_per_codec(tmp_path, capsys):
    sweep = write_sweep(tmp_path / "s", rows(n_images=2))
    assert published_main(["export", str(sweep)]) == 0
    files = sorted(p.name for p in (sweep / "compressai").glob("*.json"))
    assert files == ["jpeg.json", "vvenc_420_10bit.json", "x265_444_10bit.json"]
    assert published_main(["show", str(sweep / "compressai" / "jpeg.json")]) == 0
    assert "psnr_rgb" in capsys.readouterr().out
