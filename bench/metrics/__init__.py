"""Metrics on the decoded 8-bit RGB against the original 8-bit RGB: a registry of small modules.

Choose them with Hydra, `metrics=[psnr,ms_ssim,lpips,dists,vmaf,flip]` (default `[psnr, ms_ssim]`):

| name        | columns                                     | better | module        |
|-------------|---------------------------------------------|--------|---------------|
| psnr        | psnr_rgb, psnr_y, psnr_u, psnr_v, psnr_yuv  | higher | psnr.py       |
| ms_ssim     | ms_ssim_rgb, ms_ssim_rgb_db (+ ms_ssim_win) | higher | ms_ssim.py    |
| lpips       | lpips_alex (LPIPS v0.1, AlexNet)            | lower  | lpips.py      |
| lpips_vgg   | lpips_vgg (LPIPS v0.1, VGG16)               | lower  | lpips.py      |
| dists       | dists                                       | lower  | dists.py      |
| vmaf        | vmaf (libvmaf vmaf_v0.6.1)                  | higher | vmaf.py       |
| flip        | flip (NVIDIA FLIP, LDR)                     | lower  | flip.py       |
| ms_ssim_y   | ms_ssim_y, ms_ssim_y_db (Y', JPEG AI's)     | higher | ms_ssim_y.py  |
| fsim        | fsim, fsim_db (FSIMc, piq)                  | higher | fsim.py       |
| gmsd        | gmsd (Y', piq)                              | lower  | gmsd.py       |
| vif         | vif (wavelet VIF, vifvec on pyrtools)       | higher | vif.py        |
| vifp        | vifp (pixel VIF, piq; JPEG AI's VIF)        | higher | vifp.py       |
| iw_ssim     | iw_ssim, iw_ssim_db (Y', piq)               | higher | iw_ssim.py    |
| nlpd        | nlpd (Y', IQA_pytorch 0.1: JPEG AI's)       | lower  | nlpd.py       |
| psnr_hvs    | psnr_hvs, psnr_hvsm (Y', psnr-hvsm)         | higher | psnr_hvs.py   |
| vsi         | vsi, vsi_db (piq)                           | higher | vsi.py        |

The luma metrics (Y') all read the plane of `bench.metrics.luma`: Y' of `metric_matrix`, full range,
rounded to 10 bits, as JPEG AI's objective quality assessment framework makes it.

Every numeric column is declared once, in its module's `SPECS` (direction, unit, value range, input
range, colour space, dB form, kind, label), and read from here by the store, the plots, BD, the
perception analysis, the report and the CI check: `METRICS[column]`, `label(column)`,
`bd_column(column)`, `PRIMARY`.  Deep metrics also write a record column `<column>_impl` (package
versions, weights and their source) and `metric_device`.

Your own metric: a module with `SPECS = {name: Metric(...)}` and
`compute_batch(ref, dec, *, matrix, device, **options) -> dict`, named in `metrics=[...]` as
`package.module:name` or `path/to/file.py:name`, or registered by an installed package under the
entry-point group `lic_bench.metrics` (`name = "package.module"`).  Module top levels import only
numpy: heavy dependencies load inside compute_batch, only when the metric is chosen.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Iterable

import numpy as np

from bench.core.errors import BenchError
from bench.core.plugins import is_target, load_module, suggestion
from bench.metrics.base import Metric, as_batch, column  # noqa: F401  (public names)
from bench.metrics.ms_ssim import ms_ssim_rgb, ms_ssim_win, to_db  # noqa: F401
from bench.metrics.psnr import psnr, psnr_ycbcr  # noqa: F401

# metric name (as in `metrics=[...]`) -> module declaring it in SPECS
REGISTRY = {
    "psnr": "bench.metrics.psnr",
    "ms_ssim": "bench.metrics.ms_ssim",
    "lpips": "bench.metrics.lpips",
    "lpips_vgg": "bench.metrics.lpips",
    "dists": "bench.metrics.dists",
    "vmaf": "bench.metrics.vmaf",
    "flip": "bench.metrics.flip",
    # JPEG AI's objective metrics (and GMSD, VSI), offline; calibration in tests/test_jpeg_ai_metrics.py
    "ms_ssim_y": "bench.metrics.ms_ssim_y",
    "fsim": "bench.metrics.fsim",
    "gmsd": "bench.metrics.gmsd",
    "vif": "bench.metrics.vif",
    "vifp": "bench.metrics.vifp",
    "iw_ssim": "bench.metrics.iw_ssim",
    "nlpd": "bench.metrics.nlpd",
    "psnr_hvs": "bench.metrics.psnr_hvs",
    "vsi": "bench.metrics.vsi",
}
ENTRY_POINT_GROUP = "lic_bench.metrics"
DEFAULT = ("psnr", "ms_ssim")  # what a sweep measures unless `metrics=[...]` says otherwise
_SPECS: dict[str, Metric] = {}


def _entry_points() -> dict[str, str]:
    from importlib import metadata

    try:
        return {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name not in REGISTRY}
    except Exception:  # a broken distribution's metadata must not stop the harness
        return {}


def known() -> list[str]:
    return list(REGISTRY) + sorted(_entry_points())


def _load_spec(name: str) -> Metric:
    if name in REGISTRY:
        module, key = REGISTRY[name], name
    elif is_target(name):
        module, _, key = name.rpartition(":")
    else:
        eps = _entry_points()
        if name not in eps:
            raise BenchError(f"unknown metric {name!r}{suggestion(name, known())} known: {', '.join(known())}; "
                             "or give your metric as 'package.module:name' / 'path/to/file.py:name'")
        module, _, key = eps[name].partition(":")
        key = key or name
    mod = load_module(module, "metric") if module not in REGISTRY.values() else importlib.import_module(module)
    specs = getattr(mod, "SPECS", None)
    if not isinstance(specs, dict) or key not in specs or not isinstance(specs[key], Metric):
        raise BenchError(f"metric {name!r}: {module} has no SPECS[{key!r}] = bench.metrics.Metric(...)")
    if not callable(getattr(mod, "compute_batch", None)):
        raise BenchError(f"metric {name!r}: {module} has no compute_batch(ref, dec, *, matrix, device, **options)")
    s = specs[key]
    if s.module != mod.__name__:  # the module that computes it is the one that declares it
        s = dataclasses.replace(s, module=mod.__name__)
    return s


def spec(name: str) -> Metric:
    """The declaration of a metric by name (built in, entry point, or import path); its columns are
    added to METRICS on first use, so every later stage reads their direction and unit."""
    if name not in _SPECS:
        s = _load_spec(name)
        # the same column may come back under another name (an import path and a file path of one
        # module); a different declaration of a column another metric writes is refused
        clash = [c for c in s.columns if c in METRICS and METRICS[c]["metric"] != name
                 and {k: v for k, v in METRICS[c].items() if k != "metric"} != s.columns[c]]
        if clash:
            raise BenchError(f"metric {name!r} declares column(s) {clash} that metric {METRICS[clash[0]]['metric']!r} "
                             "already declares differently")
        _SPECS[name] = s
        for col, info in s.columns.items():
            METRICS.setdefault(col, {**info, "metric": name})
    return _SPECS[name]


def resolve(names: Iterable[str] | None) -> tuple[str, ...]:
    """Validated metric names, in order, without repeats; None -> the default pair."""
    if names is None:
        return DEFAULT
    if isinstance(names, str):
        names = [n.strip() for n in names.strip("[]").split(",") if n.strip()]
    out = []
    for n in names:
        spec(str(n))
        if n not in out:
            out.append(str(n))
    if not out:
        raise BenchError("metrics is empty: choose at least one of " + ", ".join(known()))
    return tuple(out)


def check(names: Iterable[str] | None = None) -> None:
    """Run the optional `check()` of each chosen metric's module: a metric that cannot run on this machine
    at all (VMAF without an ffmpeg that has libvmaf) is one BenchError line before any unit, not a note
    in every row."""
    for n in resolve(names):
        fn = getattr(importlib.import_module(spec(n).module), "check", None)
        if callable(fn):
            fn()


def columns(names: Iterable[str] | None = None) -> list[str]:
    """The numeric result columns the chosen metrics write (what a finished row must hold)."""
    return [c for n in resolve(names) for c in spec(n).columns]


def missing(row: dict, names: Iterable[str] | None = None) -> tuple[str, ...]:
    """Metrics whose columns a stored row lacks."""
    return tuple(n for n in resolve(names) if any(c not in row for c in spec(n).columns))


def register_from_rows(metric_names: Iterable[str]) -> list[str]:
    """Declare the metrics a results table was measured with (its `metric_names` cells), so their
    columns get direction and unit in analyses; a plugin that cannot be imported here is skipped and
    named in the returned list."""
    skipped = []
    for cell in metric_names:
        for n in str(cell or "").split(","):
            n = n.strip()
            if n and n not in _SPECS:
                try:
                    spec(n)
                except BenchError:
                    skipped.append(n)
    return sorted(set(skipped))


# Every numeric column with its declaration; plugin metrics are added by spec() when first used.
METRICS: dict[str, dict] = {}
for _name in REGISTRY:
    spec(_name)

# The two columns every stage shows first: RD plots by default, per-image plots and tables in the
# report, the CI regression check, the perception analysis's reference (the first).
PRIMARY = tuple(c for c, i in METRICS.items() if i.get("primary"))
REFERENCE = PRIMARY[0]


def info(col: str) -> dict:
    """The declaration of a column; KeyError for an undeclared one (its direction would be a guess)."""
    if col in METRICS:
        return dict(METRICS[col])
    raise KeyError(f"metric column {col!r} is not declared (known: {', '.join(METRICS)}); its direction is unknown")


def higher_is_better(col: str) -> bool:
    return bool(info(col)["higher_is_better"])


def label(col: str, unit: bool = True) -> str:
    """Axis label ('PSNR-RGB [dB]'); unit=False gives the bare name ('PSNR-RGB')."""
    text = str(METRICS.get(col, {}).get("label") or col)
    return text if unit else text.split(" [")[0]


def bd_column(col: str) -> str:
    """The column a BD (or any curve comparison) uses: the declared dB form when there is one
    (MS-SSIM saturates near 1: it is compared as -10 log10(1 - x))."""
    return METRICS.get(col, {}).get("db") or col


def compared_columns() -> list[str]:
    """Columns other than the distortion family that the perception analysis compares with the
    reference by default: structural and perceptual ones, dB forms replacing raw values."""
    out = []
    for c, i in METRICS.items():
        if i.get("kind") in ("structural", "perceptual"):
            c = bd_column(c)
            if c not in out:
                out.append(c)
    return out


NOTE = "metric_note"  # why a metric has no value for a picture ("lpips: ... | psnr: ..."); absent when none
NOTE_SEP = " | "


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def compute_batch(ref: np.ndarray, dec: np.ndarray, matrix: str = "bt709", names: Iterable[str] | None = None,
                  device: str = "auto", *, on_error: str = "note", **options) -> dict:
    """Batched: ref, dec uint8 (N, H, W, 3) -> {column: array of N values} plus record columns.

    Each metric runs on its own: one that cannot measure a picture never costs the unit its other
    metrics.  A module says so itself with NaN values and a `metric_note` entry per picture (a known
    limit, e.g. LPIPS-alex below 31 px: final).  A metric that raises leaves its columns out of the
    result and gives its reason in `metric_note`; a resumed sweep sees its columns missing and tries it
    again from the kept bitstream (the failure may be passing, e.g. a GPU out of memory).  `metric_note`
    (an array of N strings, "name: reason | ...") is present only when some picture has a note.
    on_error="raise" lets a metric's exception through instead (benchmarks, which must not time a failure)."""
    ref, dec = as_batch(ref), as_batch(dec)
    if ref.shape != dec.shape:
        raise ValueError(f"decoded pictures are {dec.shape}, originals {ref.shape}")
    n = len(ref)
    out: dict = {}
    notes: list[list[str]] = [[] for _ in range(n)]
    for name in resolve(names):
        s = spec(name)
        try:
            got = dict(importlib.import_module(s.module).compute_batch(ref, dec, matrix=matrix, device=device,
                                                                       **{**s.options, **options}))
        except Exception as exc:  # noqa: BLE001 - any failure of one metric: its reason, the others kept
            if on_error == "raise":
                raise
            got = {NOTE: [f"not measured ({_first_line(exc)}); tried again on the next run"] * n}
        own = got.pop(NOTE, None)
        if own is not None:
            for i, text in enumerate(np.broadcast_to(np.asarray(own, dtype=object), (n,))):
                if text:
                    notes[i].append(f"{name}: {text}")
        out.update(got)
    if "metric_matrix" in out:  # keep the historical column order: the matrix last
        out["metric_matrix"] = out.pop("metric_matrix")
    if any(notes):
        out[NOTE] = np.array([NOTE_SEP.join(x) for x in notes], dtype=object)
    return out


def _scalar(v):
    if isinstance(v, np.ndarray):
        v = v[0]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def compute(ref: np.ndarray, dec: np.ndarray, matrix: str = "bt709", names: Iterable[str] | None = None,
            device: str = "auto", *, on_error: str = "note", **options) -> dict:
    """One picture (H, W, 3) pair -> {column: value}.  With names=None: PSNR-RGB/Y/U/V/YUV,
    MS-SSIM-RGB (+ dB, window) and metric_matrix, as the harness always wrote."""
    if np.shape(ref) != np.shape(dec):
        raise ValueError(f"decoded picture is {np.shape(dec)}, original {np.shape(ref)}")
    if np.ndim(ref) != 3:
        raise ValueError("compute() takes one picture (H, W, 3); use compute_batch() for (N, H, W, 3)")
    return {k: _scalar(v) for k, v in compute_batch(ref, dec, matrix, names, device, on_error=on_error, **options).items()}


__all__ = ["METRICS", "REGISTRY", "DEFAULT", "NOTE", "NOTE_SEP", "PRIMARY", "REFERENCE", "ENTRY_POINT_GROUP", "Metric", "column", "compute",
           "compute_batch", "check", "columns", "missing", "resolve", "spec", "known", "info", "label", "higher_is_better",
           "bd_column", "compared_columns", "register_from_rows", "psnr", "psnr_ycbcr", "ms_ssim_rgb", "ms_ssim_win",
           "to_db"]
