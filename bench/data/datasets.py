"""Where test pictures come from: a bundled set, a manifest-checked set, or any folder.

Kinds (the `kind` key of conf/dataset/*.yaml):
  builtin   photos that ship inside the scikit-image wheel: the default sweep runs offline.
  manifest  files listed with SHA-256 in a manifest CSV (ours: datasets/<name>.csv, shipped with the
            package; or the user's own file); read from `root` when given, else downloaded once from
            the manifest's URLs into `cache` (default: the user cache folder; atomic, checked).
  folder    every file under `root` matching `glob`.
"""

from __future__ import annotations

import csv
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.core.assets import cache_dir, user_or_asset
from bench.core.errors import BenchError
from bench.core.files import sha256_file, umask

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class ImageRef:
    name: str  # stable id inside the dataset (relative path without suffix)
    path: str
    sha256: str


def _project_path(p: str | os.PathLike) -> Path:
    p = Path(os.path.expanduser(str(p)))
    return p if p.is_absolute() else (Path.cwd() / p)


def _builtin(cfg) -> list[ImageRef]:
    try:
        import skimage
    except ImportError:
        raise BenchError("dataset 'builtin' needs scikit-image (pip install scikit-image)") from None
    data_dir = Path(skimage.__file__).parent / "data"
    refs = []
    for f in cfg.files:
        path = data_dir / f
        if not path.is_file():
            raise BenchError(f"dataset 'builtin': {f} is not in {data_dir} (scikit-image {skimage.__version__})")
        refs.append(ImageRef(Path(f).stem, str(path), sha256_file(path)))
    return refs


def _read_manifest(path: Path) -> list[dict]:
    if not path.is_file():
        raise BenchError(f"dataset manifest not found: {path}")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _download(url: str, dest: Path, sha256: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            out.write(resp.read())
        got = sha256_file(tmp)
        if got != sha256:
            raise BenchError(f"download of {url} has sha256 {got[:12]}..., manifest says {sha256[:12]}...")
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp's 0600 would hide the shared cache from colleagues
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _manifest(cfg) -> list[ImageRef]:
    manifest = user_or_asset(str(cfg.manifest))
    if not manifest.is_file() and len(Path(str(cfg.manifest)).parts) == 1:
        manifest = user_or_asset(Path("datasets") / str(cfg.manifest))  # a bare name: a packaged manifest
    rows = _read_manifest(manifest)
    if cfg.get("root"):
        base = _project_path(cfg.root)
        if not base.is_dir():
            raise BenchError(f"dataset {cfg.name}: root {base} is not a directory")
    else:
        base = _project_path(cfg.cache) if cfg.get("cache") else cache_dir("datasets", str(cfg.name))
    refs = []
    for row in rows:
        path = base / row["file"]
        if not path.is_file():
            if cfg.get("root") or not row.get("url"):
                raise BenchError(f"dataset {cfg.name}: {path} is missing (set dataset.root to a folder holding the files of {manifest.name})")
            try:
                _download(row["url"], path, row["sha256"])
            except BenchError:
                raise
            except Exception as exc:
                raise BenchError(
                    f"dataset {cfg.name}: cannot download {row['url']} ({exc}); offline, put the files in {base} "
                    f"or pass dataset.root=/path/to/{cfg.name}"
                ) from None
        got = sha256_file(path)
        if got != row["sha256"]:
            raise BenchError(f"dataset {cfg.name}: {path} has sha256 {got[:12]}..., manifest says {row['sha256'][:12]}...")
        refs.append(ImageRef(str(Path(row["file"]).with_suffix("")), str(path), got))
    return refs


def _folder(cfg) -> list[ImageRef]:
    if not cfg.get("root"):
        raise BenchError("dataset 'folder' needs dataset.root=/path/to/images")
    base = _project_path(cfg.root)
    if not base.is_dir():
        raise BenchError(f"dataset folder: {base} is not a directory")
    files = sorted(p for p in base.glob(cfg.get("glob") or "*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BenchError(f"dataset folder: no images match {cfg.get('glob')!r} under {base}")
    return [ImageRef(str(p.relative_to(base).with_suffix("")), str(p), sha256_file(p)) for p in files]


def resolve(cfg) -> list[ImageRef]:
    """The pictures of a dataset config, each with its content hash, in a stable order."""
    kinds = {"builtin": _builtin, "manifest": _manifest, "folder": _folder}
    if cfg.kind not in kinds:
        raise BenchError(f"dataset kind {cfg.kind!r} unknown; choose from {sorted(kinds)}")
    limit = cfg.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise BenchError(f"dataset.limit must be a positive integer (or null for every picture), not {limit!r}")
    refs = kinds[cfg.kind](cfg)
    return refs[:limit] if limit else refs
