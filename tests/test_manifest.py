"""`bench manifest`: the demo models' manifest follows each file's fine-tuning lineage."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from bench.cli.manifest import main as manifest_main  # noqa: E402


def _ckpt(path, lmbda, steps, seconds, init_from=""):
    torch.save({"state_dict": {"w": torch.zeros(2)}, "arch": "bmshj2018-hyperprior", "N": 8, "M": 8, "metric": "mse",
                "lmbda": lmbda, "steps": steps, "train_seconds": seconds, "init_from": init_from, "patch": 64, "batch": 2},
               path)
    return path


def test_lineage_counts_every_parent_including_ones_not_shipped(tmp_path):
    base = _ckpt(tmp_path / "base.pth.tar", 0.013, 1000, 100.0)
    demo = tmp_path / "demo"
    demo.mkdir()
    mid = _ckpt(demo / "q3.pth.tar", 0.0067, 200, 20.0, init_from=str(base))
    low = _ckpt(demo / "q2.pth.tar", 0.0035, 300, 30.0, init_from=str(mid))
    out = demo / "manifest.json"
    assert manifest_main([str(low), str(mid), "--out", str(out), "--parents", str(base)]) == 0
    doc = json.loads(out.read_text())
    by_point = {e["point"]: e for e in doc["checkpoints"]}
    assert by_point[2]["fine_tuned_from"] == ["q3.pth.tar", "base.pth.tar"]
    assert by_point[2]["steps_total"] == 1500 and by_point[2]["steps_this_file"] == 300
    assert by_point[2]["train_seconds_total"] == 150.0
    assert by_point[3]["steps_total"] == 1200 and by_point[3]["fine_tuned_from"] == ["base.pth.tar"]


def test_a_parent_not_given_is_named_and_not_counted(tmp_path):
    low = _ckpt(tmp_path / "q2.pth.tar", 0.0035, 300, 30.0, init_from="/elsewhere/base.pth.tar")
    out = tmp_path / "manifest.json"
    assert manifest_main([str(low), "--out", str(out)]) == 0
    e = json.loads(out.read_text())["checkpoints"][0]
    assert e["fine_tuned_from"] == ["base.pth.tar"] and e["steps_total"] == 300
