"""The pictures behind a row, for the visual comparisons: the original and the reconstruction.

- **Original**: found through the dataset configs of the sweep's own Hydra runs
  (`runs/**/.hydra/config.yaml`; a relative dataset root is taken relative to the folder the run
  started in, `.hydra/hydra.yaml` `runtime.cwd`), or in a folder the user names; always matched by the
  row's dataset, image name and **content sha256**.  Nothing is downloaded: a manifest dataset is read
  from its root or its cache folder only.
- **Reconstruction**: the PNG the sweep saved (`save_reconstructions: true`, row column
  `reconstruction`), else the kept bitstream (`bitstream`, `decode_meta`) decoded again through the
  row's adapter, exactly as `bench.sweep.units._remeasure` does.  Either way the picture must give the
  row's PSNR-RGB (to 1e-9 relative), so a panel never shows pixels other than the ones measured; a
  bitstream whose size is not the row's `bytes` is refused too.  Nothing is stored by default.

A picture that cannot be had is a `Missing` with the reason; the panel says it instead of guessing.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from bench import codecs
from bench import metrics as M
from bench.codecs import Encoded
from bench.core.errors import BenchError
from bench.core.files import sha256_file
from bench.core.timing import Timing
from bench.data import datasets
from bench.data.images import load_rgb

PSNR_RTOL = 1e-9  # the decoded picture must give the row's PSNR-RGB this closely (as bench.sweep.units)


@dataclass
class Missing:
    """Why a picture is not available (shown in the panel instead of the tile)."""

    reason: str


@dataclass
class Reconstruction:
    rgb: np.ndarray
    source: str  # "decoded again from <bitstream>" or "saved PNG <path>"


# ------------------------------------------------------------------------------------ originals


def _run_configs(sweep_dir: Path) -> list[tuple[Any, Path]]:
    """(dataset config, folder the run started in) of every Hydra job of the sweep."""
    from omegaconf import OmegaConf

    out = []
    for cfg_path in sorted(sweep_dir.glob("runs/**/.hydra/config.yaml")):
        try:
            cfg = OmegaConf.load(cfg_path)
            ds = cfg.get("dataset")
        except Exception:  # a damaged run record: the other runs may still name the dataset
            continue
        if ds is None:
            continue
        cwd = Path.cwd()
        try:
            hydra = OmegaConf.load(cfg_path.parent / "hydra.yaml")
            cwd = Path(str(hydra.hydra.runtime.cwd))
        except Exception:
            pass
        out.append((ds, cwd))
    return out


def _refs_of(ds, cwd: Path) -> list[datasets.ImageRef]:
    """The pictures of one dataset config, resolved without downloading anything."""
    from omegaconf import OmegaConf

    ds = OmegaConf.create(OmegaConf.to_container(ds, resolve=False))
    root = ds.get("root")
    if root:
        p = Path(str(root)).expanduser()
        ds.root = str(p if p.is_absolute() else cwd / p)
    elif ds.get("kind") == "manifest":
        from bench.core.assets import cache_dir

        cache = Path(str(ds.cache)).expanduser() if ds.get("cache") else cache_dir("datasets", str(ds.name))
        ds.root = str(cache if cache.is_absolute() else cwd / cache)  # root set: missing files are an error, not a download
    try:
        return datasets.resolve(ds)
    except BenchError:
        return []


class Originals:
    """The original pictures of a sweep, by (dataset, image name), sha256-checked against the rows."""

    def __init__(self, sweep_dir: Path, extra_dirs: Iterable[Path] = ()):
        self.sweep_dir = Path(sweep_dir)
        self.extra_dirs = [Path(d) for d in extra_dirs]
        self._index: dict[tuple[str, str], list[str]] | None = None
        self._by_hash: dict[str, str] | None = None

    def _build(self) -> None:
        self._index, self._by_hash = {}, {}
        for ds, cwd in _run_configs(self.sweep_dir):
            for ref in _refs_of(ds, cwd):
                self._index.setdefault((str(ds.name), ref.name), []).append(ref.path)
                self._by_hash.setdefault(ref.sha256, ref.path)

    def _search_extra(self, name: str, sha256: str) -> str | None:
        for d in self.extra_dirs:
            for suffix in (".png", ".ppm", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp"):
                p = d / f"{name}{suffix}"
                if p.is_file() and sha256_file(p) == sha256:
                    return str(p)
            for p in d.rglob("*"):  # any other layout: by content
                if p.is_file() and p.suffix.lower() in datasets.IMAGE_SUFFIXES and p.stem == Path(name).name \
                        and sha256_file(p) == sha256:
                    return str(p)
        return None

    def path(self, dataset: str, image: str, sha256: str) -> str | Missing:
        for p in ([self._search_extra(image, sha256)] if self.extra_dirs else []):
            if p:
                return p
        if self._index is None:
            self._build()
        for p in self._index.get((dataset, image), []):
            if Path(p).is_file() and (not sha256 or sha256_file(p) == sha256):
                return p
        if sha256 and sha256 in self._by_hash:
            return self._by_hash[sha256]
        where = (", ".join(str(d) for d in self.extra_dirs) + " and ") if self.extra_dirs else ""
        return Missing(f"original of {dataset}/{image} not found ({where}the dataset configs of {self.sweep_dir}/runs; "
                       "give its folder with --originals DIR)")

    def rgb(self, dataset: str, image: str, sha256: str) -> np.ndarray | Missing:
        p = self.path(dataset, image, sha256)
        return p if isinstance(p, Missing) else load_rgb(p)


# ------------------------------------------------------------------------------- reconstructions


def _same_psnr(before: float, now: float) -> bool:
    return before == now or abs(before - now) <= PSNR_RTOL * max(1.0, abs(before))


def _checked(rgb: np.ndarray, original: np.ndarray, row: Mapping, source: str) -> Reconstruction | Missing:
    if rgb.shape != original.shape:
        return Missing(f"{source}: picture is {rgb.shape}, the original {original.shape}")
    want = row.get("psnr_rgb")
    if want is not None and np.isfinite(float(want)):
        now = M.psnr(original, rgb)
        if not _same_psnr(float(want), float(now)):
            return Missing(f"{source}: PSNR-RGB {now:.6f} dB, the row says {float(want):.6f} dB (not the measured pixels)")
    return Reconstruction(rgb, source)


_ADAPTERS: dict[tuple[str, str], Any] = {}


def _adapter(row: Mapping):
    """The row's adapter with the row's parameters (one per configuration and process)."""
    key = (str(row.get("adapter")), str(row.get("codec_params") or "{}"))
    if key not in _ADAPTERS:
        params = json.loads(key[1]) if key[1] else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit deprecation notices from compressai's import
            _ADAPTERS[key] = codecs.make(key[0], threads=1, **params)
    return _ADAPTERS[key]


def reconstruction(row: Mapping, sweep_dir: Path, original: np.ndarray) -> Reconstruction | Missing:
    """The decoded picture of an ok row: its saved PNG, else its kept bitstream decoded again; checked
    against the row's PSNR-RGB."""
    sweep_dir = Path(sweep_dir)
    saved = row.get("reconstruction")
    if isinstance(saved, str) and saved and (sweep_dir / saved).is_file():
        from PIL import Image

        with Image.open(sweep_dir / saved) as im:
            rgb = np.asarray(im.convert("RGB"))
        return _checked(rgb, original, row, f"saved PNG {saved}")
    bs = row.get("bitstream")
    if not isinstance(bs, str) or not bs:
        return Missing("no kept bitstream (keep_bitstreams=false) and no saved reconstruction (save_reconstructions=true)")
    path = sweep_dir / bs
    if not path.is_file():
        return Missing(f"bitstream {bs} is not on disk")
    meta = row.get("decode_meta")
    if not isinstance(meta, str):
        return Missing(f"row has no decode_meta (written before bitstreams could be decoded again): {bs}")
    if path.stat().st_size != int(row["bytes"]):
        return Missing(f"{bs} has {path.stat().st_size} bytes, the row says {int(row['bytes'])}")
    try:
        adapter = _adapter(row)
        enc = Encoded(path, str(row.get("encode_command") or ""), Timing(), json.loads(meta))
        with tempfile.TemporaryDirectory(prefix="bench-panel-") as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            rgb = adapter.decode(enc, Path(tmp)).rgb
    except Exception as exc:  # a decoder that fails here is shown as such; the report goes on
        return Missing(f"decoding {bs} failed: {type(exc).__name__}: {exc}".splitlines()[0])
    return _checked(np.asarray(rgb), original, row, f"decoded again from {bs}")
