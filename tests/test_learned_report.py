"""The report's learned-codec section: complexity (both counters), timing and portability tables from a
real sweep of the demo model and a locally initialised autoregressive model; flags from edited rows."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("compressai", reason="compressai is not installed (pip install -e '.[learned]')")
pytest.importorskip("fvcore", reason="fvcore is not installed (pip install -e '.[test]')")

from bench.report import learned  # noqa: E402
from bench.results.tables import load_rows  # noqa: E402
from tests.helpers import ROOT, compose, write_photos  # noqa: E402


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    from bench.cli.sweep import run

    d = tmp_path_factory.mktemp("learned")
    photos = write_photos(d / "img", sizes=[(64, 96), (60, 90)])
    common = ["dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", f"results_root={d}", "sweep=s", "workers=1",
              "plot=false", "metrics=[psnr]"]
    run(compose(common + ["codec=demo_hyperprior", "codec.points=[3]", "codec.params.device=cpu"]))
    run(compose(common + ["codec=compressai_init", "codec.params.arch=mbt2018", "codec.params.N=8", "codec.params.M=12",
                          "codec.points=[1,2]", "codec.params.device=cpu"]))
    return d / "s"


def test_report_has_complexity_timing_and_portability(sweep):
    from bench.report.report import write_report

    md = write_report(sweep, n_boot=0).read_text()
    sec = md[md.index("## Learned codecs"):md.index("## Provenance")]
    from compressai.zoo.image import model_architectures

    m = json.loads((ROOT / "codecs" / "demo" / "manifest.json").read_text())["checkpoints"][0]
    n_params = sum(t.numel() for t in model_architectures[m["arch"]](N=m["N"], M=m["M"]).parameters())
    assert "Parameters [M]" in sec and f"| `demo_hyperprior` | 3 | {n_params / 1e6:.3f} |" in sec
    assert "context model" in sec and "counted as the decoder runs them" in sec
    rows = [ln for ln in sec.splitlines() if ln.startswith("| `init_mbt2018`") and "decoder (decompress)" in ln]
    # per pixel of the original picture: one row per picture size (both coded at 128x64), the two points share one
    assert len(rows) == 2 and all(r.endswith("| yes |") and "| 1, 2 |" in r for r in rows)
    assert "96x64 (coded 128x64)" in rows[0] + rows[1] and "90x60 (coded 128x64)" in rows[0] + rows[1]
    for r in rows:
        a, b = r.split("|")[5].strip().split(" / ")
        assert a == b and float(a) > 0  # both counters, equal
    assert "none: both counters agree on every part" in sec
    assert "encode s median (IQR)" in sec and "| `init_mbt2018` | 2 | 2 | cpu | 1 | 1 |" in sec
    assert "| `demo_hyperprior` | 2 | 2/2 identical (by latents) |" in sec and "| 4/4 identical (by pixels) |" in sec
    assert "Not portable: none" in sec


def test_not_portable_and_counter_disagreements_are_listed(sweep):
    df = load_rows(sweep)
    df = df[df["status"] == "ok"].copy()
    demo = df["codec"] == "demo_hyperprior"
    df.loc[demo, "decode_devices"] = "cuda,cpu"
    df.loc[demo, "decode_check_cuda"] = True
    df.loc[demo, "decode_check_cpu"] = [False, True]
    df.loc[demo, "decode_max_diff_cpu"] = [93, 0]
    ops = json.loads(df.loc[demo, "kmac_ops_dec"].iloc[0])
    ops["fvcore"]["g_s"]["upsample_nearest2d"] = 0.5
    df.loc[demo, "kmac_ops_dec"] = json.dumps(ops)
    df.loc[demo, "kmac_dec_fvcore_g_s"] = df.loc[demo, "kmac_dec_torch_g_s"] + 0.5
    sec = learned.markdown_section(df)
    assert "Bitstreams not portable:" in sec and "- `demo_hyperprior`: 1 of 2 bitstreams decode differently on cpu (max difference 93" in sec
    assert "| `demo_hyperprior` | 2 | 1/2 identical, max diff 93 (by latents) | 2/2 identical |" in sec
    assert "op types that differ: upsample_nearest2d" in sec and " !" in sec


def test_no_learned_rows_no_section():
    import pandas as pd

    assert learned.markdown_section(pd.DataFrame({"codec": ["jpeg"], "status": ["ok"], "point": [50]})) == ""
