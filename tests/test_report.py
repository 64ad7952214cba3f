"""The report page, RD plots with published overlays and per-image curves, the perception hook."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from bench.report.figures import rd_plot
from bench.report import perception as perception_report
from bench.report.markdown import markdown_to_html
from bench.report.report import write_report
from tests.rd_synth import rows, write_sweep


@pytest.fixture
def published_file(tmp_path):
    f = tmp_path / "synth" / "ref.json"
    f.parent.mkdir()
    f.write_text(json.dumps({"name": "RefCodec", "description": "a published curve", "meta": {"dataset": "synth"},
                             "results": {"bpp": [0.2, 0.4, 0.8, 1.4], "psnr-rgb": [28.5, 31.0, 33.5, 35.5],
                                         "ms-ssim-rgb": [0.95, 0.97, 0.985, 0.99]}}))
    return f


def test_rd_plot_keeps_its_old_call_and_adds_overlays(tmp_path, published_file):
    from bench.analysis.published import load

    df = rows(n_images=2)
    assert [p.suffix for p in rd_plot(df, "psnr_rgb", tmp_path / "a")] == [".png", ".svg"]
    paths = rd_plot(df, "psnr_rgb", tmp_path / "b", per_image=True, published=[load(published_file)], anchor="vvenc_420_10bit")
    svg = paths[1].read_text()
    assert "RefCodec (published, synth)" in svg and "PSNR-RGB [dB]" in svg and "anchor" in svg
    assert rd_plot(df, "no_such_metric", tmp_path / "c") == []


def test_write_report(tmp_path, published_file, monkeypatch):
    monkeypatch.setattr(perception_report, "markdown_section", lambda df, out_dir: "")  # no section
    sweep = write_sweep(tmp_path / "mysweep", rows(n_images=4))
    md_path = write_report(sweep, published=[published_file], n_boot=100)
    assert md_path == sweep / "report.md"
    md = md_path.read_text()
    for section in ("# RD report: mysweep", "## Dataset", "## Codecs", "## Published references", "## RD curves",
                    "## BD-rate against `vvenc_420_10bit`", "## Provenance", "Per-image BD-rate", "RD points"):
        assert section in md, section
    assert "Perception" not in md  # the perception section returned nothing: no heading either
    assert "x265_444_10bit 1.0" in md  # encoder version in the codec table
    assert "RefCodec" in md and "95 % CI" in md
    for img in ("rd_psnr_rgb.png", "rd_psnr_rgb.svg", "rd_ms_ssim_rgb_db.png", "rd_psnr_rgb_per_image.png",
                "bd_per_image_psnr_rgb.png"):
        assert (sweep / "report_files" / img).is_file(), img
        assert f"report_files/{img}" in md
    assert (sweep / "report_files" / "compressai" / "jpeg.json").is_file()
    html = (sweep / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html and '<img src="report_files/rd_psnr_rgb.png"' in html


def test_report_anchor_option_and_perception_hook(tmp_path, monkeypatch):
    sweep = write_sweep(tmp_path / "s", rows(n_images=3))
    seen = {}

    def markdown_section(df, out_dir):
        seen["rows"], seen["dir"] = len(df), out_dir
        (out_dir / "rd_psnr_rgb.png").write_bytes(b"the hook's own figure")
        return "LPIPS vs PSNR: **hooked** ![pd](pd_scatter.png) [web](https://example.org/x)"

    monkeypatch.setattr(perception_report, "markdown_section", markdown_section)
    md = write_report(sweep, anchor="jpeg", n_boot=20, metrics=["psnr_rgb"]).read_text()
    assert "## BD-rate against `jpeg`" in md
    assert "## Perception-distortion" in md and "**hooked**" in md
    assert seen["rows"] == 36 and seen["dir"] == sweep / "report_files" / "perception"
    assert "![pd](report_files/perception/pd_scatter.png)" in md and "(https://example.org/x)" in md
    assert (sweep / "report_files" / "rd_psnr_rgb.png").read_bytes().startswith(b"\x89PNG")  # not replaced by the hook
    assert "<strong>hooked</strong>" in (sweep / "report.html").read_text()


def test_report_cli(tmp_path, capsys, monkeypatch):
    from bench.cli.report import main

    sweep = write_sweep(tmp_path / "s", rows(n_images=2))
    assert main([str(sweep), "--boot", "10", "--metrics", "psnr_rgb"]) == 0
    assert "report.md" in capsys.readouterr().out
    assert main([str(tmp_path / "nothing")]) == 2


def test_markdown_to_html_subset():
    html = markdown_to_html("# T\n\ntext `a|b` and [l](x.svg)\n\n| h1 | h2 |\n|---|---|\n| `c\\|d` | 2 |\n\n- one\n- two\n\n"
                            "```\ncode <x>\n```\n![alt](p.png)\n")
    assert "<h1>T</h1>" in html and "<code>a|b</code>" in html and '<a href="x.svg">l</a>' in html
    assert "<th>h1</th>" in html and "<td><code>c|d</code></td>" in html
    assert "<ul><li>one</li><li>two</li></ul>" in html and "code &lt;x&gt;" in html and '<img src="p.png" alt="alt">' in html


def test_hydra_callback_writes_the_report_once_per_sweep_folder(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    from bench.cli.sweep import ReportCallback

    sweep = write_sweep(tmp_path / "s", rows(n_images=2))
    cb = ReportCallback(n_boot=10, metrics=["psnr_rgb"])
    job = SimpleNamespace(cfg=SimpleNamespace(out_dir=str(sweep)))
    cb.on_job_end(None, job)
    cb.on_job_end(None, job)  # a second codec job of the same sweep
    cb.on_multirun_end(SimpleNamespace(out_dir=str(tmp_path / "elsewhere")))
    assert (sweep / "report.md").is_file() and (sweep / "report.html").is_file()
    assert capsys.readouterr().out.count("[bench] report:") == 1


def test_bd_section_names_every_statistic_and_falls_back_to_matched_rate(tmp_path):
    from bench.report.report import build_markdown

    df = rows({"vvenc_420_10bit": 1.0, "x265_444_10bit": 1.1, "jpeg": 1.8}, n_images=4, noise=0.2)
    far = df[df["codec"] == "jpeg"].copy()  # a codec 20 dB above the others: no common quality range
    far["codec"], far["psnr_rgb"] = "far", far["psnr_rgb"] + 20
    sweep = write_sweep(tmp_path / "s", pd.concat([df, far]))
    md = build_markdown(sweep, n_boot=60, metrics=["psnr_rgb"], panels=None)
    assert "Visual comparisons" not in md  # panels=None: no section, no pages
    assert not (sweep / "report_files" / "images").exists()
    for needle in ("Definitions (each column below names one of them)", "**BD-rate, mean curves**", "**per-image mean / median**",
                   "**P(fewer bits)**", "**leave-one-point-out**", "**matched rate**", "Aggregations and paired test:",
                   "per-image mean % [95 % CI]", "Sensitivity of the mean-curve result", "methods range",
                   "### Paired test between every two codecs", "P(row < column)"):
        assert needle in md, needle
    summary = md.split("### Summary")[1].split("###")[0]
    far_row = next(line for line in summary.splitlines() if line.startswith("| `far`"))
    assert "matched rate +" in far_row and "dB" in far_row  # +20 dB at equal rate, said so
    html = markdown_to_html(md)
    assert "<li><strong>P(fewer bits)</strong>: the paired bootstrap probability" in html  # continuation lines joined
    assert html.count('<div class="table-wrap"><table>') == html.count("<table>")
