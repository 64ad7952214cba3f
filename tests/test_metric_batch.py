"""metric_batch: the deep metrics (LPIPS, DISTS) of all rate points of one image in one batched call
(bench.sweep.batch).  The rows must be those of one call per unit; a failing point is its own failed row;
an interrupted group keeps the rows of its finished chunks; the CUDA choices are tested with CUDA mocked."""

from __future__ import annotations

import json
from concurrent.futures import Future

import numpy as np
import pytest

from bench import metrics
from bench.cli.sweep import run
from bench.core.errors import BenchError
from bench.data.datasets import ImageRef
from bench.results.store import RowStore
from bench.sweep import batch, memory, units
from bench.sweep.job import settings
from tests.conftest import natural_crop
from tests.helpers import compose, write_photos

# columns that differ between two runs of the same unit whatever the path: times, and the batch size itself
VOLATILE = {"timestamp", "encode_s", "encode_cpu_s", "decode_s", "decode_cpu_s", "metrics_s", "unit_s", "metric_batch_size"}
DEEP_COLUMNS = ("lpips_alex", "dists")


def _cfg(tmp_path, photos, sweep, extra=()):
    return compose(["dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", "codec=jpeg", "codec.points=[20,50,85]",
                    f"results_root={tmp_path / 'results'}", f"sweep={sweep}", "workers=1", "plot=false",
                    "metrics=[psnr,lpips,ms_ssim,dists]", "metric_device=cpu", *extra])


def _rows(tmp_path, sweep) -> dict:
    rows = (json.loads(p.read_text()) for p in (tmp_path / "results" / sweep / "rows").glob("*.json"))
    return {(r["image"], r["point"]): r for r in rows}


def test_batched_rows_equal_the_rows_of_one_call_per_unit(tmp_path):
    """The whole sweep through the pool, both ways.  On CPU the deep values are bitwise equal here (oneDNN gives a
    picture the same result inside a batch of 3 as alone); the bound is 1e-6, what batched convolutions may move
    a float32 score by on another machine or on a GPU.  A 40x24 picture checks the notes: LPIPS-alex cannot
    measure it (NaN and its note, in the same place of metric_note as a per-unit call writes it)."""
    photos = write_photos(tmp_path / "img", sizes=((64, 96), (65, 97), (24, 40)))
    for sweep, flag in (("batched", "true"), ("single", "false")):
        out = run(_cfg(tmp_path, photos, sweep, [f"metric_batch={flag}"]))
        assert out["rows"] == 9 and out["failed"] == 0
    batched, single = _rows(tmp_path, "batched"), _rows(tmp_path, "single")
    assert batched.keys() == single.keys() and len(batched) == 9
    worst = 0.0
    for k, b in batched.items():
        s = single[k]
        assert b["metric_batch_size"] == 3 and "metric_batch_size" not in s  # all 3 points of the image in one call
        assert b["key"] == s["key"] and b["status"] == s["status"] == "ok"
        for col in DEEP_COLUMNS:
            if s[col] == "nan":  # NaN, as a row file stores it
                assert b[col] == "nan" and k[0] == "p2" and col == "lpips_alex"
            else:
                worst = max(worst, abs(b[col] - s[col]))
        assert b["metric_note"] == s["metric_note"]
        same = {c for c in set(b) | set(s) if c not in VOLATILE and c not in DEEP_COLUMNS}
        assert {c: b.get(c) for c in same} == {c: s.get(c) for c in same}, k
        assert b["metrics_s"] > 0 and b["unit_s"] >= b["metrics_s"]
    assert worst <= 1e-6
    assert "lpips: 40x24 has a side under 31 px" in batched[("p2", 20)]["metric_note"]


def _units(tmp_path, points=(20, 50, 85), names=("psnr", "lpips"), device="cpu", timeout=None):
    photos = write_photos(tmp_path / "img", sizes=((64, 96),))
    from bench.data import datasets

    images = datasets.resolve(compose(["dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png"]).dataset)
    store = RowStore(tmp_path / "results").writable()
    todo, done = units.plan("t", images, units.CodecConfig("jpeg", "jpeg", {}, tuple(points)), store, metric_names=names,
                            metric_device=device, metric_batch=True, timeout=timeout)
    return todo, done, store


class _FailingAt:
    """The real JPEG adapter, except that coding `point` raises `exc`."""

    def __init__(self, real, point, exc):
        self.real, self.point, self.exc = real, point, exc

    def encode(self, rgb, point, workdir):
        if point == self.point:
            raise self.exc
        return self.real.encode(rgb, point, workdir)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _fail_at(monkeypatch, point, exc):
    real = units._cached_adapter

    monkeypatch.setattr(units, "_cached_adapter", lambda u: _FailingAt(real(u), point, exc))


def test_a_failing_point_is_its_own_failed_row_and_the_others_are_measured(tmp_path, monkeypatch):
    todo, _, store = _units(tmp_path)
    _fail_at(monkeypatch, 50, RuntimeError("encoder exploded\nsecond line"))
    rows = batch.run_group(todo)
    by_point = {r["point"]: r for r in rows}
    assert by_point[50]["status"] == "failed" and by_point[50]["error"] == "RuntimeError: encoder exploded"
    assert "lpips_alex" not in by_point[50]
    for p in (20, 85):
        r = by_point[p]
        assert r["status"] == "ok" and r["metric_batch_size"] == 2  # the two points that decoded, in one call
        assert store.read(r["key"])["lpips_alex"] == r["lpips_alex"]  # written, one file per unit
        ref = natural_crop(64, 96)
        import io

        from PIL import Image

        dec = np.asarray(Image.open(io.BytesIO((tmp_path / "results" / r["bitstream"]).read_bytes())).convert("RGB"))
        assert r["lpips_alex"] == pytest.approx(metrics.compute(ref, dec, names=["lpips"], device="cpu")["lpips_alex"], abs=1e-6)
    assert store.read(by_point[50]["key"])["status"] == "failed"


def test_an_interrupted_group_keeps_the_rows_of_its_finished_chunks(tmp_path, monkeypatch):
    """Chunks of 2 pictures; the 3rd point is interrupted (KeyboardInterrupt: nothing of the unit is written, as
    under kill -9).  The first chunk's two rows are on disk, finished; planning again leaves one unit to run."""
    todo, _, store = _units(tmp_path)
    monkeypatch.setattr(memory, "CHUNK_PIXELS", 2 * 64 * 96)
    _fail_at(monkeypatch, 85, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        batch.run_group(todo)
    written = {u.point: store.read(u.key) for u in todo}
    assert written[85] is None
    assert all(written[p]["status"] == "ok" and "lpips_alex" in written[p] and written[p]["metric_batch_size"] == 2
               for p in (20, 50))
    monkeypatch.undo()
    again, done, _ = _units(tmp_path)
    assert done == 2 and [u.point for u in again] == [85]


def test_a_point_past_its_own_time_limit_fails_as_it_would_alone(tmp_path, monkeypatch):
    """Alone, a unit in library code past its limit + grace (0.5 s + 1 s here) has its worker killed: a failed row.
    In a group it is not killed (the group's limit is the sum), so its row is failed all the same."""
    import time

    todo, _, _ = _units(tmp_path, points=(20, 50), timeout=0.5)
    real = units.measure

    def measure(u, names):
        out = real(u, names)
        if u.point == 50:
            time.sleep(1.6)
        return out

    monkeypatch.setattr(batch, "measure", measure)
    rows = {r["point"]: r for r in batch.run_group(todo)}
    assert rows[20]["status"] == "ok" and rows[20]["metric_batch_size"] == 1 and "lpips_alex" in rows[20]
    assert rows[50]["status"] == "failed" and "ran past its time limit of 0.5 s (unit_timeout)" in rows[50]["error"]
    assert "lpips_alex" not in rows[50] and "bytes" not in rows[50]  # the failed row a killed worker's unit gets


def test_group_splits_and_leaves_other_units_alone(tmp_path):
    def unit(image, point, names=("psnr", "lpips"), flag=True, remeasure=False):
        ref = ImageRef(name=image, path=f"/x/{image}.png", sha256=image * 8)
        return units.Unit(f"{image}{point}", "d", ref, units.CodecConfig("jpeg", "jpeg"), "h", point, 1, "bt709", "/tmp", True,
                          {}, tuple(names), "cpu", remeasure, "", 60.0, "", False, flag)

    us = [unit(i, p) for i in "ab" for p in (1, 2, 3, 4)]
    assert [[u.key for u in t] for t in batch.group(us, 1)] == [["a1", "a2", "a3", "a4"], ["b1", "b2", "b3", "b4"]]
    # 4 workers, 2 images: the groups are halved so no worker idles
    assert sorted(len(t) for t in batch.group(us, 4)) == [2, 2, 2, 2]
    assert sorted(len(t) for t in batch.group(us[:4], 3)) == [1, 1, 2]
    # no deep metric, metric_batch=false, or a unit that only adds metrics from its bitstream: alone, as before
    for other in ([unit("c", p, names=("psnr", "ms_ssim")) for p in (1, 2)], [unit("c", p, flag=False) for p in (1, 2)],
                  [unit("c", p, remeasure=True) for p in (1, 2)]):
        assert [len(t) for t in batch.group(other, 1)] == [1, 1]
    assert batch.group_timeout(us[:4]) == pytest.approx(4 * (60 + units.grace(60)))
    assert batch.deep(["psnr", "lpips", "ms_ssim", "lpips_vgg", "dists", "flip"]) == ("lpips", "lpips_vgg", "dists")


def test_a_dead_group_worker_fails_only_the_points_without_a_row(tmp_path):
    from pebble import ProcessExpired

    from bench.sweep.runner import _outcome

    todo, _, store = _units(tmp_path, points=(20, 50))
    (done,) = batch.run_group(todo[:1])  # its row was written before the worker died
    fut = Future()
    fut.set_exception(ProcessExpired("died", code=-9))
    rows = _outcome(fut, todo)
    assert rows[0] == done and done["status"] == "ok"
    assert rows[1]["status"] == "failed" and "image's unit group (2 points" in rows[1]["error"] and "SIGKILL" in rows[1]["error"]
    assert store.read(todo[1].key)["status"] == "failed"


def test_single_reference_is_detected_without_copying():
    a = natural_crop(40, 48)
    view = np.broadcast_to(a, (5, *a.shape))
    from bench.metrics.base import single_reference

    assert single_reference(view).shape == (1, *a.shape)
    assert single_reference(np.stack([a, a.copy()])).shape == (1, *a.shape)
    two = np.stack([a, natural_crop(40, 48, "coffee")])
    assert single_reference(two) is two and single_reference(a[None]).shape == (1, *a.shape)


FAKE_DEEP = '''
import numpy as np
from bench.core.device import resolve_device
from bench.metrics.base import Metric, as_batch, column, single_reference

CALLS = []
SPECS = {"fake_deep": Metric("fake_deep", __name__, {"fake_deep": column(higher_is_better=False)}, uses_torch=True, deep=True)}


def compute_batch(ref, dec, *, matrix="bt709", device="auto", **_):
    ref, dec = as_batch(ref), as_batch(dec)
    dev = resolve_device(device)
    CALLS.append((len(dec), len(single_reference(ref)), dev))
    if dev.startswith("cuda") and len(dec) > 1 and len(CALLS) == 1:
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
    d = dec.astype(float) - ref.astype(float)
    return {"fake_deep": (d * d).mean(axis=(1, 2, 3)), "metric_device": dev}
'''


def test_cuda_mocked_chunks_from_free_gpu_memory_and_out_of_memory_falls_back_to_one_picture(tmp_path, monkeypatch):
    """With torch told a GPU exists: the chunk follows the free GPU memory (GPU_SHARE of it, at the deep metrics'
    bytes per pixel); the metric is asked with the resolved cuda device; a batched call that runs out of GPU
    memory is made again one picture at a time, and the values are those of per-point calls."""
    import torch

    monkeypatch.setattr(metrics, "METRICS", dict(metrics.METRICS))  # the stand-in metric stays out of the registry after
    monkeypatch.setattr(metrics, "_SPECS", dict(metrics._SPECS))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    free = {"b": 8 << 30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (free["b"], 80 << 30))
    px = 768 * 512
    assert memory.chunk_size(px, ["lpips"], "auto") == int(0.5 * (8 << 30)) // memory.METRIC_BYTES_PER_PIXEL["lpips"] // px
    assert memory.chunk_size(px, ["lpips", "dists"], "cuda") == int(0.5 * (8 << 30)) // 3000 // px  # the larger of the two
    free["b"] = 1 << 20
    assert memory.chunk_size(px, ["dists"], "cuda") == 1  # never less than one picture
    assert memory.chunk_size(px, ["dists"], "cpu") == memory.CHUNK_PIXELS // px == 5
    free["b"] = 8 << 30

    plugin = tmp_path / "fake_deep.py"
    plugin.write_text(FAKE_DEEP)
    name = f"{plugin}:fake_deep"
    todo, _, _ = _units(tmp_path, names=("psnr", name), device="auto")
    mod = __import__("importlib").import_module(metrics.spec(name).module)
    rows = {r["point"]: r for r in batch.run_group(todo)}
    assert mod.CALLS[0] == (3, 1, "cuda")  # one batched call: 3 decoded pictures, the reference once, on the GPU
    assert mod.CALLS[1:] == [(1, 1, "cuda")] * 3  # out of memory: one picture at a time
    for r in rows.values():
        assert r["status"] == "ok" and r["metric_device"] == "cuda" and r["metric_batch_size"] == 3
        assert "fake_deep" in r and "metric_note" in r and r["metric_note"] == ""


def test_metric_batch_config_and_memory_estimate(tmp_path):
    assert settings(compose(["codec=jpeg"])).metric_batch is True
    assert settings(compose(["codec=jpeg", "metric_batch=false"])).metric_batch is False
    with pytest.raises(BenchError, match="metric_batch must be true or false"):
        settings(compose(["codec=jpeg", "metric_batch=3"]))
    px = 768 * 512
    assert memory.batch_extra(["psnr", "ms_ssim"], px, 8) == 0 and memory.batch_extra(["lpips"], px, 1) == 0
    # 4 points of a Kodak picture: 3 more pictures in the call, half LPIPS-alex's bytes per pixel each
    assert memory.batch_extra(["psnr", "lpips"], px, 4) == 3 * px * 1500 // 2
    assert memory.batch_extra(["lpips"], px, 50) == 4 * px * 1500 // 2  # capped by CHUNK_PIXELS (5 pictures)
    assert memory.batch_extra(["lpips"], 12000 * 8000, 6) == 0  # a large picture goes alone
