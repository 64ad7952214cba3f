"""Opening the harness: a codec, a learned model and a metric from outside the package (import path,
file path, entry point), user config folders, and a configuration identity that follows file
contents (an overwritten checkpoint recomputes exactly its rows)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from bench import codecs, metrics
from bench.cli.common import compose
from bench.cli.sweep import run
from bench.core.errors import BenchError
from tests.helpers import write_photos

POSTERIZE = '''
"""A toy lossy codec from outside lic-bench: keeps the top `bits` of every sample."""
import numpy as np

from bench.codecs import Codec, Decoded, Encoded, clock


class Posterize(Codec):
    """Keeps the top `bits` bits of each RGB sample (a plugin test codec)."""

    point_name = "bits"
    point_type = int
    point_range = (1, 8)

    @classmethod
    def defaults(cls):
        return {"fill": "mid"}

    def version(self):
        return "posterize 1.0"

    def colour(self):
        return {"colour_matrix": "rgb", "colour_range": "full", "colour_chroma": "444", "colour_bit_depth": 8,
                "colour_siting": "n/a"}

    def encode(self, rgb, point, workdir):
        h, w = rgb.shape[:2]
        q = (rgb >> (8 - int(point))).astype(np.uint8)
        path = workdir / "poster.bin"
        with clock() as c:
            path.write_bytes(bytes([int(point)]) + h.to_bytes(2, "big") + w.to_bytes(2, "big") + np.packbits(
                np.unpackbits(q[..., None], axis=-1)[..., 8 - int(point):]).tobytes())
        return Encoded(path, f"posterize bits={point}", c.timing)

    def decode(self, enc, workdir):
        buf = enc.path.read_bytes()
        bits, h, w = buf[0], int.from_bytes(buf[1:3], "big"), int.from_bytes(buf[3:5], "big")
        with clock() as c:
            flat = np.unpackbits(np.frombuffer(buf[5:], np.uint8))[: h * w * 3 * bits].reshape(h, w, 3, bits)
            q = np.packbits(np.concatenate([np.zeros((h, w, 3, 8 - bits), np.uint8), flat], axis=-1), axis=-1)[..., 0]
            rgb = (q.astype(np.uint16) << (8 - bits)) + ((1 << (7 - bits)) if bits < 8 and self.params["fill"] == "mid" else 0)
        return Decoded(rgb.astype(np.uint8), "posterize decode", c.timing)


class NotACodec:
    pass
'''

MAE = '''
import numpy as np

from bench.metrics import Metric, column

SPECS = {"mae": Metric("mae", __name__, {"mae_rgb": column(higher_is_better=False, unit="", value_range=(0.0, 255.0),
                                                          input_range="8-bit [0, 255]", colour_space="RGB",
                                                          kind="distortion", label="MAE-RGB")},
                       description="mean absolute error over RGB (a plugin test metric)")}


def compute_batch(ref, dec, *, matrix="bt709", device="auto", **_):
    return {"mae_rgb": np.abs(ref.astype(np.float64) - dec).mean(axis=(1, 2, 3))}
'''

TINY_MODEL = '''
from compressai.models import FactorizedPrior


class TinyPrior(FactorizedPrior):
    """An outside CompressAI-compatible model (as an ELIC/TCM repository would define one)."""

    def __init__(self, width=8, latent=12):
        super().__init__(N=width, M=latent)
'''


@pytest.fixture
def plugin_repo(tmp_path, monkeypatch):
    """A user's repository: a package `mylab` with a codec, a metric and a model, and a config folder."""
    repo = tmp_path / "repo"
    (repo / "mylab").mkdir(parents=True)
    (repo / "mylab" / "__init__.py").write_text("")
    (repo / "mylab" / "codecs.py").write_text(POSTERIZE)
    (repo / "mylab" / "metrics.py").write_text(MAE)
    (repo / "mylab" / "models.py").write_text(TINY_MODEL)
    (repo / "conf" / "codec").mkdir(parents=True)
    (repo / "conf" / "codec" / "poster.yaml").write_text(textwrap.dedent("""\
        # My lab's posterizer, by import path
        name: poster
        adapter: mylab.codecs:Posterize
        points: [3, 5]
        params:
          fill: mid
        """))
    monkeypatch.syspath_prepend(str(repo))
    monkeypatch.chdir(tmp_path)
    return repo


def _sweep(tmp_path, photos, codec, extra=(), config_dirs=()):
    return compose([f"dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", f"codec={codec}",
                    f"results_root={tmp_path / 'results'}", "sweep=t", "workers=1", "plot=false", *extra],
                   config_dirs=config_dirs)


def test_codec_by_import_path_from_a_user_config_folder(tmp_path, plugin_repo):
    photos = write_photos(tmp_path / "img")
    cfg = _sweep(tmp_path, photos, "poster", ["metrics=[psnr,mylab.metrics:mae]"], config_dirs=[plugin_repo / "conf"])
    assert run(cfg)["failed"] == 0
    df = pd.read_parquet(tmp_path / "results/t/results.parquet")
    assert len(df) == 4 and set(df.codec) == {"poster"} and (df.adapter == "mylab.codecs:Posterize").all()
    # 3 bits keep less than 5: fewer bytes, lower PSNR, higher MAE (the plugin metric's column)
    g = df.groupby("point")[["bytes", "psnr_rgb", "mae_rgb"]].mean()
    assert g.loc[3, "bytes"] < g.loc[5, "bytes"] and g.loc[3, "psnr_rgb"] < g.loc[5, "psnr_rgb"] < 60
    assert g.loc[3, "mae_rgb"] > g.loc[5, "mae_rgb"] > 0
    assert metrics.METRICS["mae_rgb"]["higher_is_better"] is False  # declared once, read by every stage
    from bench.analysis.bd import available_metrics

    assert "mae_rgb" in available_metrics(df)


def test_codec_and_metric_by_file_path(tmp_path, plugin_repo):
    photos = write_photos(tmp_path / "img", sizes=[(40, 56)])
    codec_file = plugin_repo / "mylab" / "codecs.py"
    (plugin_repo / "conf" / "codec" / "poster_file.yaml").write_text(
        f"name: poster_file\nadapter: {codec_file}:Posterize\npoints: [4]\nparams: {{}}\n")
    cfg = _sweep(tmp_path, photos, "poster_file", [f"metrics=[psnr,{plugin_repo / 'mylab' / 'metrics.py'}:mae]"],
                 config_dirs=[plugin_repo / "conf"])
    assert run(cfg)["failed"] == 0
    row = json.loads(next((tmp_path / "results/t/rows").glob("*.json")).read_text())
    assert row["status"] == "ok" and row["mae_rgb"] > 0 and row["encoder"] == "posterize 1.0"


def test_codec_by_entry_point_of_an_installed_plugin(tmp_path, plugin_repo, monkeypatch):
    dist = tmp_path / "site" / "mylab_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mylab-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[lic_bench.codecs]\nposterize = mylab.codecs:Posterize\n\n"
                                           "[lic_bench.metrics]\nmae = mylab.metrics\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert "posterize" in codecs.names() and codecs.adapter_class("posterize").__name__ == "Posterize"
    assert "mae" in metrics.known()
    photos = write_photos(tmp_path / "img", sizes=[(40, 56)])
    cfg = _sweep(tmp_path, photos, "identity", ["codec.adapter=posterize", "codec.name=ep", "codec.points=[6]",
                                                "metrics=[psnr,mae]"])
    assert run(cfg)["failed"] == 0
    row = json.loads(next((tmp_path / "results/t/rows").glob("*.json")).read_text())
    assert row["codec"] == "ep" and row["adapter"] == "posterize" and "mae_rgb" in row


def test_wrong_plugins_are_one_clear_line(tmp_path, plugin_repo):
    with pytest.raises(BenchError, match="not a subclass of bench.codecs.Codec"):
        codecs.adapter_class("mylab.codecs:NotACodec")
    with pytest.raises(BenchError, match="has no attribute 'Nope'"):
        codecs.adapter_class("mylab.codecs:Nope")
    with pytest.raises(BenchError, match="cannot import 'nolab'"):
        codecs.adapter_class("nolab.codecs:X")
    with pytest.raises(BenchError, match=r"unknown codec adapter 'x256'; did you mean 'x265'\?"):
        codecs.adapter_class("x256")
    with pytest.raises(BenchError, match=r"unknown metric 'lpis'; did you mean 'lpips'\?"):
        metrics.resolve(["psnr", "lpis"])
    with pytest.raises(BenchError, match="no SPECS"):
        metrics.resolve(["mylab.codecs:mae"])


def _tiny_checkpoint(path: Path, seed: int) -> Path:
    import torch

    from mylab.models import TinyPrior

    torch.manual_seed(seed)
    model = TinyPrior(width=8, latent=12)
    model.update(force=True)
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def test_learned_model_class_by_import_path_and_checkpoint_identity(tmp_path, plugin_repo):
    """A CompressAI-compatible class from the user's repository with its constructor arguments; then the
    checkpoint of point 1 is overwritten at the same path (as CompressAI's training script does):
    exactly point 1's rows are recomputed."""
    photos = write_photos(tmp_path / "img", sizes=[(64, 64), (64, 96)])
    ck1, ck2 = _tiny_checkpoint(tmp_path / "q1.pth.tar", 1), _tiny_checkpoint(tmp_path / "q2.pth.tar", 2)
    args = ["codec.params.arch=mylab.models:TinyPrior", "+codec.params.model_args={width: 8, latent: 12}",
            f"+codec.params.checkpoints={{1: {ck1}, 2: {ck2}}}", "codec.points=[1,2]", "codec.params.device=cpu"]
    cfg = _sweep(tmp_path, photos, "compressai_checkpoint", args)
    res = run(cfg)
    assert (res["rows"], res["failed"]) == (4, 0)
    rows_dir = tmp_path / "results/t/rows"
    first = {p.name: (p.stat().st_mtime_ns, json.loads(p.read_text())) for p in rows_dir.glob("*.json")}
    assert len(first) == 4 and all(r["status"] == "ok" and r["decode_check"] for _, r in first.values())
    assert all(json.loads(r["point_files"])["checkpoint"] for _, r in first.values())

    res = run(cfg)  # unchanged: nothing to do
    assert res["rows"] == 0

    _tiny_checkpoint(ck1, 3)  # retrained, saved again at the same path
    res = run(cfg)
    assert res == {"rows": 2, "failed": 0, "wall_s": res["wall_s"]}
    now = {p.name: (p.stat().st_mtime_ns, json.loads(p.read_text())) for p in rows_dir.glob("*.json")}
    for name, (mtime, row) in first.items():
        assert now[name][0] == mtime  # no earlier row rewritten: point 2's rows are reused, point 1's superseded
    new = [r for n, (_, r) in now.items() if n not in first]
    assert len(new) == 2 and {r["point"] for r in new} == {1}
    df = pd.read_parquet(tmp_path / "results/t/results.parquet")
    assert len(df) == 4  # the table holds the newest row per (image, point)
    old_p1 = sorted(r["psnr_rgb"] for _, r in first.values() if r["point"] == 1)
    assert sorted(df[df.point == 1].psnr_rgb) != old_p1  # other weights, other pictures


def test_moving_a_checkpoint_keeps_its_rows(tmp_path, plugin_repo):
    """Identity is the content, not the path: the same file elsewhere is the same configuration."""
    photos = write_photos(tmp_path / "img", sizes=[(64, 64)])
    ck = _tiny_checkpoint(tmp_path / "a.pth.tar", 1)
    base = ["codec.params.arch=mylab.models:TinyPrior", "+codec.params.model_args={width: 8, latent: 12}",
            "codec.points=[1]", "codec.params.device=cpu"]
    assert run(_sweep(tmp_path, photos, "compressai_checkpoint", base + [f"+codec.params.checkpoints={{1: {ck}}}"]))["rows"] == 1
    moved = ck.rename(tmp_path / "moved.pth.tar")
    assert run(_sweep(tmp_path, photos, "compressai_checkpoint", base + [f"+codec.params.checkpoints={{1: {moved}}}"]))["rows"] == 0
