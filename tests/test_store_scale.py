"""The row store at scale: Parquet shards beside the row files, compaction that never loses a row,
provenance stored once, and the tables built from both.  The timed figures are `bench perf tables`."""

from __future__ import annotations

import json
import os
import time

import pandas as pd

from bench.results import shards
from bench.results.store import RowStore
from bench.results.tables import frame, load_rows, write_tables


def row(key, point=None, codec="c1", image="i0", **extra):
    point = point if point is not None else 20 + sum(map(ord, key)) % 20  # one point per key unless given
    base = {"key": key, "status": "ok", "error": "", "dataset": "d", "image": image, "codec": codec, "point": point,
            "codec_hash": f"h-{codec}", "encoder": f"enc {codec}", "timestamp": "2026-01-01T00:00:00+00:00",
            "bytes": 100, "bpp": 0.5, "psnr_rgb": 30.0 + point / 10, "metric_names": "psnr"}
    return {**base, **extra}


def read_json(store, key):
    return json.loads(store.path(key).read_text())


def test_compaction_keeps_every_value_and_the_frame(tmp_path):
    store = RowStore(tmp_path)
    rows = [row("a", psnr_rgb=float("inf"), flag=True, meta={"w": 3, "l": [1, 2]}),
            row("b", point=27, psnr_rgb=float("nan"), status="failed", error="boom"),
            row("c", point=32, image="i1", mixed="x"),
            row("d", point=37, image="i1", mixed=5)]  # one column of a str and an int: kept as JSON text
    for r in rows:
        store.write(r)
    before = {r["key"]: read_json(store, r["key"]) for r in rows}
    df_before = frame(store)
    shard = store.compact(min_rows=1)
    assert shard and shard.parent == store.rows_dir / "shards" and not list(store.rows_dir.glob("*.json"))
    again = RowStore(tmp_path)
    for key, expect in before.items():
        got = again.read(key)
        assert got.keys() == expect.keys(), key
        for k, v in expect.items():
            if v in ("inf", "nan"):  # JSON's stand-ins are floats again
                assert str(got[k]) == v
            else:
                assert got[k] == v and type(got[k]) is type(v), (key, k)
    pd.testing.assert_frame_equal(frame(again), df_before, check_like=True)
    assert again.done("a", ["psnr_rgb"]) and not again.done("b", ["psnr_rgb"]) and not again.done("a", ["ms_ssim_rgb"])
    assert again.invalid() == []


def test_a_newer_row_beats_the_shard_and_later_shards_beat_older(tmp_path):
    store = RowStore(tmp_path)
    store.write(row("a", psnr_rgb=30.0))
    store.compact(min_rows=1)
    store.write(row("a", psnr_rgb=31.0))  # e.g. metrics added later: a loose file again
    assert RowStore(tmp_path).read("a")["psnr_rgb"] == 31.0
    assert frame(RowStore(tmp_path)).psnr_rgb.tolist() == [31.0]
    time.sleep(0.01)
    store.compact(min_rows=1)
    assert len(store.shard_files()) == 2
    assert RowStore(tmp_path).read("a")["psnr_rgb"] == 31.0
    assert frame(RowStore(tmp_path)).psnr_rgb.tolist() == [31.0]


def test_superseded_rows_across_shards_and_files(tmp_path):
    store = RowStore(tmp_path)
    store.write(row("old", point=22, codec_hash="h1", timestamp="2026-01-01T00:00:00+00:00", psnr_rgb=30.0))
    store.compact(min_rows=1)
    store.write(row("new", point=22, codec_hash="h2", timestamp="2026-01-02T00:00:00+00:00", psnr_rgb=35.0))
    store.write(row("other", image="i1"))
    df = frame(store)
    assert df.key.tolist() == ["new", "other"] and len(frame(store, superseded=True)) == 3


def test_a_row_written_during_compaction_is_not_lost(tmp_path, monkeypatch):
    store = RowStore(tmp_path)
    for k in "abc":
        store.write(row(k, psnr_rgb=30.0))
    real = shards.write_shard

    def racing(rows_dir, rows, name=None):
        store.write(row("b", psnr_rgb=40.0))  # a worker finishes "b" again after the files were claimed
        return real(rows_dir, rows, name)

    monkeypatch.setattr(shards, "write_shard", racing)
    store.compact(min_rows=1)
    fresh = RowStore(tmp_path)
    assert fresh.read("b")["psnr_rgb"] == 40.0 and fresh.path("b").is_file()
    assert sorted(frame(fresh).key) == ["a", "b", "c"]


def test_claimed_files_of_a_dead_compaction_stay_visible_and_are_adopted(tmp_path):
    store = RowStore(tmp_path)
    for k in "ab":
        store.write(row(k))
    dead = store.rows_dir / ".compacting-999-dead"
    dead.mkdir()
    for k in "ab":
        os.rename(store.path(k), dead / f"{k}.json")
    assert store.read("a") and sorted(frame(store).key) == ["a", "b"] and store.done("b")
    assert store.compact(min_rows=1) is None  # a young claim folder may still be working
    old = time.time() - 3600
    os.utime(dead, (old, old))
    assert store.compact(min_rows=1) is not None
    assert not dead.exists() and sorted(RowStore(tmp_path).rows(), key=lambda r: r["key"])[0]["key"] == "a"


def test_unreadable_files_stay_loose_and_listed(tmp_path):
    store = RowStore(tmp_path)
    store.write(row("a"))
    store.path("bad").write_text("{not json")
    store.compact(min_rows=1)
    assert store.path("bad").is_file() and [n for n, _ in store.invalid()] == ["bad.json"]
    assert store.read("bad") is None and store.read("a")


def test_compaction_waits_for_enough_loose_rows(tmp_path):
    store = RowStore(tmp_path)
    store.write(row("a"))
    assert store.compact(min_rows=2) is None and store.path("a").is_file()


def test_fingerprint_follows_the_rows(tmp_path):
    store = RowStore(tmp_path)
    store.write(row("a"))
    fp = store.fingerprint()
    assert store.fingerprint() == fp
    store.write(row("b"))
    fp2 = store.fingerprint()
    assert fp2 != fp
    store.compact(min_rows=1)
    assert store.fingerprint() not in (fp, fp2)


def test_provenance_once_per_record_joined_back_everywhere(tmp_path):
    store = RowStore(tmp_path / "s")
    rec = {"git_revision": "abc", "bench_version": "0.1.0", "packages": '{"numpy": "1.26.4"}', "host": "h1",
           "platform": "linux", "cpus": "2"}
    pid = store.write_provenance(rec)
    assert store.write_provenance(dict(rec)) == pid and len(list((tmp_path / "s" / "provenance").glob("*.json"))) == 1
    store.write(row("a", provenance=pid))
    store.write(row("b", point=27, provenance=pid))
    store.write(row("old", point=32, git_revision="inline", packages="{}", host="h0"))  # a row from before records
    store.compact(min_rows=2)
    df = frame(store).set_index("key")
    assert df.loc["a", "git_revision"] == "abc" and df.loc["b", "host"] == "h1" and df.loc["a", "packages"] == rec["packages"]
    assert df.loc["old", "git_revision"] == "inline" and df.loc["old", "host"] == "h0"
    paths = write_tables(store)
    csv = pd.read_csv(paths["csv"])
    assert "provenance" in csv and "packages" not in csv and "encoder" not in csv and "codec_hash" in csv
    prov = pd.read_csv(paths["provenance"])
    assert prov.set_index("provenance").loc[pid, "git_revision"] == "abc"
    assert pd.read_csv(paths["codecs"]).codec_hash.tolist() == ["h-c1"]
    pq = pd.read_parquet(paths["parquet"]).set_index("key")
    assert pq.loc["a", "packages"] == rec["packages"] and pq.loc["old", "host"] == "h0"
    copied = tmp_path / "copied"
    copied.mkdir()
    (copied / "results.parquet").write_bytes(paths["parquet"].read_bytes())
    back = load_rows(copied).set_index("key")
    assert back.loc["b", "git_revision"] == "abc" and back.loc["old", "git_revision"] == "inline"


def test_sweep_rows_in_shards_resume_and_take_added_metrics(tmp_path):
    """A compacted sweep reruns nothing, and asking for another metric completes the shard rows from
    their kept bitstreams."""
    from bench.cli.sweep import run
    from tests.helpers import compose, write_photos

    photos = write_photos(tmp_path / "img")
    base = ["dataset=folder", f"dataset.root={photos}", "dataset.glob=*.png", "codec=jpeg", "codec.points=[30,70]",
            f"results_root={tmp_path / 'results'}", "sweep=t", "workers=1", "plot=false"]
    assert run(compose([*base, "metrics=[psnr]"]))["rows"] == 4
    store = RowStore(tmp_path / "results" / "t")
    assert store.compact(min_rows=1) is not None
    assert run(compose([*base, "metrics=[psnr]"]))["rows"] == 0
    res = run(compose([*base, "metrics=[psnr,ms_ssim]"]))
    assert res["rows"] == 4 and res["failed"] == 0
    df = frame(RowStore(tmp_path / "results" / "t"))
    assert df.ms_ssim_rgb.notna().all() and df.metrics_added.notna().all() and len(df) == 4
    assert run(compose([*base, "metrics=[psnr,ms_ssim]"]))["rows"] == 0


def test_a_read_while_another_process_compacts_sees_every_row(tmp_path, monkeypatch):
    store = RowStore(tmp_path)
    for k in "abc":
        store.write(row(k))
    real = RowStore._load
    fired = []

    def load(p):
        if not fired:  # another process folds the files into a shard while this one reads them
            fired.append(1)
            RowStore(tmp_path).compact(min_rows=1)
        return real(p)

    monkeypatch.setattr(RowStore, "_load", staticmethod(load))
    assert sorted(frame(RowStore(tmp_path)).key) == ["a", "b", "c"] and fired
