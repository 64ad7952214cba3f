"""Visual comparisons: originals and reconstructions (decoded again, checked against the rows), matched
points, region choice, the panel's pixels, the per-image pages and the report section; the sweep's
`save_reconstructions` hook."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.cli.sweep import run
from bench.data.images import load_rgb
from bench.report import pages, panels as P
from bench.report.pictures import Missing, Originals, reconstruction
from bench.results.tables import load_rows
from tests.helpers import compose, write_photos

SIZES = ((96, 128), (80, 120))


def _cfg(tmp_path, photos, codec, points, extra=()):
    return compose(["dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", f"codec={codec}", f"codec.points=[{points}]",
                    f"results_root={tmp_path / 'results'}", "sweep=v", "workers=1", "plot=false", "metrics=[psnr,ms_ssim]",
                    *extra])


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two small photos, JPEG and WebP at three points each (about a second)."""
    tmp = tmp_path_factory.mktemp("panels")
    photos = write_photos(tmp / "img", SIZES)
    assert run(_cfg(tmp, photos, "jpeg", "10,40,90"))["failed"] == 0
    assert run(_cfg(tmp, photos, "webp", "10,50,90", ["save_reconstructions=true"]))["failed"] == 0
    return tmp / "results" / "v", photos


def test_kept_bitstreams_decode_to_the_measured_pixels(sweep):
    sweep_dir, photos = sweep
    df = load_rows(sweep_dir)
    jpeg = df[df["codec"] == "jpeg"].to_dict("records")
    assert len(jpeg) == 6
    for row in jpeg:
        orig = load_rgb(str(photos / f"{row['image']}.png"))
        rec = reconstruction(row, sweep_dir, orig)
        assert not isinstance(rec, Missing), rec
        assert rec.source.startswith("decoded again from bitstreams/")
        # the very pixels Pillow decodes from the kept file
        assert np.array_equal(rec.rgb, np.asarray(Image.open(sweep_dir / row["bitstream"]).convert("RGB")))
    row = jpeg[0]
    orig = load_rgb(str(photos / f"{row['image']}.png"))
    wrong = reconstruction({**row, "psnr_rgb": row["psnr_rgb"] + 0.01}, sweep_dir, orig)
    assert isinstance(wrong, Missing) and "not the measured pixels" in wrong.reason
    assert "keep_bitstreams=false" in reconstruction({**row, "bitstream": ""}, sweep_dir, orig).reason
    assert "bytes" in reconstruction({**row, "bytes": row["bytes"] + 1}, sweep_dir, orig).reason


def test_save_reconstructions_writes_the_decoded_picture(sweep):
    sweep_dir, photos = sweep
    df = load_rows(sweep_dir)
    webp = df[df["codec"] == "webp"].to_dict("records")
    assert all(r["reconstruction"].startswith("reconstructions/") for r in webp)
    assert (df[df["codec"] == "jpeg"].get("reconstruction", pd.Series([None])).isna()).all()  # option off: nothing saved
    for row in webp:
        png = np.asarray(Image.open(sweep_dir / row["reconstruction"]).convert("RGB"))
        decoded = np.asarray(Image.open(sweep_dir / row["bitstream"]).convert("RGB"))
        assert np.array_equal(png, decoded)
        rec = reconstruction(row, sweep_dir, load_rgb(str(photos / f"{row['image']}.png")))
        assert rec.source.startswith("saved PNG reconstructions/")


def test_originals_from_the_sweeps_run_configs_with_a_relative_root(sweep, tmp_path):
    sweep_dir, photos = sweep
    fake = tmp_path / "s"
    shutil.copytree(sweep_dir, fake)
    hydra = fake / "runs" / "20260101-000000" / "0_jpeg" / ".hydra"
    hydra.mkdir(parents=True)
    (hydra / "config.yaml").write_text(f"dataset:\n  name: folder\n  kind: folder\n  root: {photos.name}\n  glob: '*.png'\n  limit: null\n")
    (hydra / "hydra.yaml").write_text(f"hydra:\n  runtime:\n    cwd: {photos.parent}\n")  # root relative to where it ran
    df = load_rows(fake)
    row = df.iloc[0]
    o = Originals(fake)
    assert o.path(row["dataset"], row["image"], row["image_sha256"]) == str(photos / f"{row['image']}.png")
    missing = o.path(row["dataset"], row["image"], "0" * 64)  # another content: never taken for the original
    assert isinstance(missing, Missing) and "--originals" in missing.reason
    # a folder the user names, matched by content
    other = tmp_path / "elsewhere"
    shutil.copytree(photos, other)
    assert Originals(tmp_path / "nothing", [other]).path(row["dataset"], row["image"], row["image_sha256"]).startswith(str(other))


def test_window_sums_and_the_auto_region_have_known_answers():
    rng = np.random.default_rng(0)
    a = rng.random((23, 31))
    sums = P._window_sums(a, 5, 7)
    brute = np.array([[a[y:y + 5, x:x + 7].sum() for x in range(31 - 7 + 1)] for y in range(23 - 5 + 1)])
    np.testing.assert_allclose(sums, brute, rtol=1e-12)
    # two reconstructions, equal to the original except for a 16x16 patch each: the window holds both patches
    orig = np.full((120, 160, 3), 128, np.uint8)
    r1, r2 = orig.copy(), orig.copy()
    r1[40:56, 70:86] = 10
    r2[50:66, 80:96] = 250
    x, y, w, h = P.region_where_tiles_differ(orig, [r1, r2], 32)
    assert (w, h) == (32, 32) and x <= 70 and x + w >= 96 and y <= 40 and y + h >= 66
    assert P.parse_region("5,6,40,30", (120, 160)) == (5, 6, 40, 30)
    with pytest.raises(Exception, match="outside"):
        P.parse_region("150,0,40,40", (120, 160))


def test_matched_rows_take_the_reference_point_and_the_nearest_in_log_bpp():
    img = pd.DataFrame([
        {"codec": "learned", "point": p, "bpp": b, "point_name": "quality"} for p, b in ((1, 0.12), (2, 0.3), (3, 0.6))
    ] + [{"codec": "hevc", "point": p, "bpp": b, "point_name": "qp"} for p, b in ((37, 0.2), (32, 0.41), (27, 0.9))]
      + [{"codec": "jpeg", "point": p, "bpp": b, "point_name": "quality"} for p, b in ((10, 0.25), (50, 0.7))])
    target, how, rows = P.matched_rows(img, ["learned", "hevc", "jpeg"], reference="learned")
    # common range [0.25, 0.6]: the learned codec's lowest point inside it is 0.3 bpp
    assert target == 0.3 and "quality=2" in how
    assert rows["hevc"]["point"] == 32 and rows["jpeg"]["point"] == 10  # |log(0.41/0.3)| = 0.31 < |log(0.2/0.3)| = 0.41
    target, how, rows = P.matched_rows(img, ["learned", "hevc", "jpeg"], target=0.65)
    assert rows["learned"]["point"] == 3 and rows["hevc"]["point"] == 27 and rows["jpeg"]["point"] == 50
    _, _, rows = P.matched_rows(img, ["learned", "hevc"], reference="hevc", ref_point="27")
    assert rows["learned"]["point"] == 3


def test_the_panel_shows_the_decoded_pixels_and_labels_every_tile(sweep, tmp_path):
    sweep_dir, photos = sweep
    df = load_rows(sweep_dir)
    opts = P.PanelOptions(crop=32, images=["p0"])
    (panel,) = P.make_panels(df, sweep_dir, tmp_path, anchor="jpeg", options=opts, originals=Originals(sweep_dir, [photos]))
    assert panel.path.is_file() and panel.region_rule.startswith("auto")
    assert "jpeg" in panel.target_from  # no learned codec: the anchor's point
    img = np.asarray(Image.open(panel.path).convert("RGB"))
    orig = load_rgb(str(photos / "p0.png"))
    x, y, w, h = panel.region
    assert x + w <= orig.shape[1] and y + h <= orig.shape[0] and (w, h) == (32, 32)
    for t in panel.tiles:
        bx, by, bw, bh = panel.boxes[t.codec]
        zoom = bw // w
        shown = img[by:by + bh, bx:bx + bw]
        want = np.repeat(np.repeat(t.rgb[y:y + h, x:x + w], zoom, 0), zoom, 1)
        assert np.array_equal(shown, want), t.codec  # nearest-neighbour enlargement of the measured pixels
    bx, by, bw, bh = panel.boxes["original"]
    assert np.array_equal(img[by:by + bh, bx:bx + bw], np.repeat(np.repeat(orig[y:y + h, x:x + w], bw // w, 0), bw // w, 1))
    labels = P.tile_metrics(panel.tiles[0].row, P.panel_metric_columns(df))
    assert labels[0].startswith("PSNR-RGB ") and labels[0].endswith(" dB") and labels[1].startswith("MS-SSIM-RGB ")


@pytest.mark.filterwarnings("ignore::UserWarning")  # torchvision's notices about `pretrained`
def test_lpips_map_is_the_lpips_packages_spatial_output(photo):
    pytest.importorskip("lpips")
    import lpips
    import torch

    from bench.metrics.lpips import load

    try:
        model, _ = load("alex", "cpu")
    except Exception as exc:  # the trunk weights are not on this machine
        pytest.skip(f"LPIPS weights unavailable: {exc}")
    ref = photo(64, 80)
    dec = np.clip(ref.astype(int) + np.random.default_rng(1).integers(-20, 21, ref.shape), 0, 255).astype(np.uint8)
    got = P.lpips_map(ref, dec)
    spatial = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, spatial=True, verbose=False).eval()
    spatial.load_state_dict(model.state_dict())
    with torch.no_grad():
        t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 127.5 - 1  # noqa: E731
        want = spatial(t(ref), t(dec))[0, 0].numpy()
    assert got.shape == ref.shape[:2]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert model.spatial is False  # the cached model is untouched


def test_pages_and_the_report_section(sweep, tmp_path, monkeypatch):
    from bench.report import perception
    from bench.report.report import write_report

    monkeypatch.setattr(perception, "markdown_section", lambda df, out_dir: "")  # not under test here
    sweep_dir, photos = sweep
    s = tmp_path / "copy"
    shutil.copytree(sweep_dir, s)
    md = write_report(s, anchor="jpeg", n_boot=50, metrics=["psnr_rgb"], originals=[photos],
                      panels=P.PanelOptions(crop=32)).read_text()
    assert "## Visual comparisons at matched rate" in md
    assert "report_files/images/p0_panel.png" in md and "report_files/images/p1.html" in md
    page = (s / "report_files" / "images" / "p0.html").read_text()
    for needle in ('src="p0_panel.png"', 'src="p0_rd.png"', 'href="../../report.html"', 'href="p1.html"', "Per-image BD-rate",
                   "decoded again from the kept bitstream: jpeg", "saved PNG: webp"):
        assert needle in page, needle
    csv = pd.read_csv(s / "report_files" / "images" / "panels.csv")
    assert set(csv["codec"]) == {"jpeg", "webp"} and len(csv) == 4 and (csv["region_w"] == 32).all()
    # without originals anywhere, the section says why instead of drawing
    s2 = tmp_path / "copy2"
    shutil.copytree(sweep_dir, s2)
    md2 = write_report(s2, anchor="jpeg", n_boot=0, metrics=["psnr_rgb"]).read_text()
    assert "No panel could be drawn" in md2 and "--originals" in md2


def test_page_names_are_safe_and_unique():
    names = pages.page_names([("a", "x/y"), ("a", "x_y"), ("a", "z")])
    assert names[("a", "x/y")] == "x_y" and names[("a", "x_y")] == "x_y_" and names[("a", "z")] == "z"
    assert pages.page_names([("d1", "i"), ("d2", "i")]) == {("d1", "i"): "d1_i", ("d2", "i"): "d2_i"}


def test_the_default_target_is_the_reference_point_the_others_match_best():
    img = pd.DataFrame([{"codec": "learned", "point": p, "bpp": b} for p, b in ((1, 0.2), (2, 0.35), (3, 0.6))]
                       + [{"codec": "hevc", "point": p, "bpp": b} for p, b in ((37, 0.15), (32, 0.3), (27, 0.62))])
    # inside the common range [0.2, 0.6] the learned codec has 0.2 (gap log(0.2/0.15)=0.29), 0.35 (0.15) and 0.6 (0.03)
    target, how, rows = P.matched_rows(img, ["learned", "hevc"], reference="learned")
    assert target == 0.6 and rows["hevc"]["point"] == 27 and "closest" in how


def test_the_region_keeps_off_the_picture_edge_when_it_can():
    orig = np.full((120, 160, 3), 128, np.uint8)
    rec = orig.copy()
    rec[:4, :] = 0  # a border artefact: the largest difference, on the edge
    rec[60:70, 90:100] = 0  # a smaller one inside
    x, y, w, h = P.region_where_tiles_differ(orig, [rec], 32)
    assert y >= P.MARGIN and x >= P.MARGIN and x <= 90 and x + w >= 100 and y <= 60 and y + h >= 70
    # a picture too small for the margin: the whole range is searched
    small = np.full((40, 40, 3), 128, np.uint8)
    r2 = small.copy()
    r2[:4, :4] = 0
    assert P.region_where_tiles_differ(small, [r2], 32)[:2] == (0, 0)
