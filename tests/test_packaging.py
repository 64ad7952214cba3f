"""The package as users install it: a wheel, installed (not editable) into a fresh venv, run from an
empty folder outside the checkout, offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT, write_photos


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pyproject_lists_every_package_and_asset_folder():
    """setuptools is given an explicit package list (the asset folders are mapped into the package):
    a new subpackage or asset folder that is not listed would silently miss the wheel."""
    cfg = _pyproject()["tool"]["setuptools"]
    listed = set(cfg["packages"])
    code = {".".join(p.relative_to(ROOT).parts[:-1]) for p in (ROOT / "bench").rglob("__init__.py")}
    assert code <= listed, f"not in pyproject's packages: {sorted(code - listed)}"
    for pkg, folder in cfg["package-dir"].items():
        if pkg == "bench":
            continue
        dirs = {pkg + "".join("." + part for part in d.relative_to(ROOT / folder).parts)
                for d in [ROOT / folder, *(p for p in (ROOT / folder).rglob("*") if p.is_dir())]
                if d.name not in ("cache", "__pycache__") and any(f.is_file() for f in d.iterdir())}
        assert dirs <= listed, f"asset folders not in pyproject's packages: {sorted(dirs - listed)}"


# What a build must not see: setuptools reuses a checkout's build/ folder, so a file deleted from the
# tree (an old demo checkpoint) would still ride along in the next wheel built there.
def _not_source(folder: str, names: list[str]) -> set[str]:
    top = {".git", ".venv", "build", "dist", "results"} if Path(folder) == ROOT else set()
    return {n for n in names if n in top or n.endswith(".egg-info") or n in ("__pycache__", ".pytest_cache")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the source tree, as from a fresh clone (and leaving no build/ in the checkout)."""
    out = tmp_path_factory.mktemp("dist")
    src = tmp_path_factory.mktemp("src") / "lic-bench"
    shutil.copytree(ROOT, src, ignore=_not_source)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (whl,) = out.glob("lic_bench-*.whl")
    return whl


def test_wheel_carries_configs_assets_and_no_import_root_but_bench(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"bench"}, tops  # `codecs` and `datasets` are never import roots (codecs is a stdlib module)
    for must in ("bench/assets/conf/config.yaml", "bench/assets/conf/train.yaml", "bench/assets/conf/codec/x265_444_10bit.yaml",
                 "bench/assets/conf/codec/identity.yaml", "bench/assets/conf/dataset/kodak.yaml",
                 "bench/assets/datasets/kodak.csv", "bench/assets/codecs/hm/encoder_intra_main_rext.cfg",
                 "bench/assets/codecs/vtm/encoder_intra_vtm.cfg", "bench/assets/codecs/demo/manifest.json",
                 "bench/cli/main.py", "bench/codecs/identity.py"):
        assert must in names, must
    assert not [n for n in names if n.endswith((".state", ".pyc")) or "/cache/" in n]
    # the demo checkpoints are exactly those of the manifest (no file left over from an earlier set)
    manifest = json.loads((ROOT / "codecs" / "demo" / "manifest.json").read_text())
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("bench/assets/codecs/demo/") and n.endswith(".pth.tar")}
    assert shipped == {e["file"] for e in manifest["checkpoints"]}, shipped
    entry = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry[0]).decode()
    assert "bench = bench.cli.main:entry" in text


def test_installed_wheel_runs_a_sweep_from_an_empty_folder(wheel, tmp_path):
    """A venv of its own with the wheel installed (the dependencies are the test venv's, reached
    through a .pth file so nothing is downloaded), then `bench` from a folder outside the checkout."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True,
                          text=True, check=True).stdout.strip()
    # our dependencies, without our editable install (a .pth line adds a path; its own .pth files do not run)
    Path(site, "lic_bench_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    work = tmp_path / "elsewhere"
    photos = write_photos(work / "pics", sizes=[(64, 80)])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["BENCH_CACHE"] = str(tmp_path / "cache")
    where = subprocess.run([str(py), "-c", "import bench, bench.core.assets as a; print(bench.__file__); print(a.root())"],
                           cwd=work, capture_output=True, text=True, env=env, check=True).stdout.split()
    assert where[0].startswith(site) and where[1] == str(Path(site) / "bench" / "assets"), where
    bench = venv / "bin" / "bench"
    run = subprocess.run([str(bench), "dataset=folder", f"dataset.root={photos}", "codec=jpeg", "codec.points=[50]",
                          "plot=false", "sweep=one"], cwd=work, capture_output=True,
                         text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (work / "results" / "one" / "results.csv").is_file() and (work / "results" / "one" / "report.md").is_file()
    rows = list((work / "results" / "one" / "rows").glob("*.json"))
    assert len(rows) == 1 and '"status": "ok"' in rows[0].read_text()
    record = json.loads((work / "results" / "one" / "provenance" / f"{json.loads(rows[0].read_text())['provenance']}.json").read_text())
    assert "(installed)" in record["git_revision"]  # code version of an installed wheel, not a git commit
    # the packaged learned demo codec and the listing work from the wheel too
    ls = subprocess.run([str(bench), "ls", "codecs"], cwd=work, capture_output=True, text=True, env=env, timeout=300)
    assert ls.returncode == 0 and "demo_hyperprior" in ls.stdout and "identity" in ls.stdout
    assert not (work / "codecs").exists() and not (work / "conf").exists()
