"""`bench ls [codecs|datasets|metrics|adapters|models] [--config-dir DIR ...]`: what can be swept.

  codecs    every codec config (packaged `conf/codec/*.yaml`, then the user's `--config-dir` folders):
            its adapter, rate points, and the adapter's parameters with the config's values and the
            adapter's defaults
  datasets  every dataset config: kind and what it reads
  metrics   every metric name with its columns, direction, unit, kind and input convention
  adapters  every codec adapter (built in and installed plugins) with its rate point and parameters
  models    learned-model architectures: CompressAI's and installed plugins'
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import codecs, metrics
from bench.cli.common import user_errors
from bench.codecs.learned.models import ARCHITECTURES, models
from bench.core.assets import conf_dir
from bench.core.errors import BenchError

WHAT = ("codecs", "datasets", "metrics", "adapters", "models")


def _configs(group: str, config_dirs) -> dict[str, tuple[Path, object]]:
    """name -> (file, loaded config); a user's file replaces a packaged one of the same name."""
    from omegaconf import OmegaConf

    out = {}
    for d in [conf_dir(), *map(Path, config_dirs)]:
        for f in sorted((d / group).glob("*.yaml")):
            try:
                out[f.stem] = (f, OmegaConf.load(f))
            except Exception as exc:  # a broken user file: say which, keep listing the rest
                out[f.stem] = (f, exc)
    return out


def _first_comment(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def _fmt(v) -> str:
    from omegaconf import OmegaConf

    if OmegaConf.is_config(v):
        v = OmegaConf.to_container(v, resolve=False)
    return repr(v) if isinstance(v, str) else str(v)


def _adapter_lines(cls, values: dict | None = None, indent: str = "    ") -> list[str]:
    lo, hi = cls.point_range
    rng = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    lines = [f"{indent}rate point: {cls.point_name} ({cls.point_type.__name__}, {rng})"]
    defaults = cls.defaults()
    if defaults:
        lines.append(f"{indent}parameters (config value / adapter default):")
        for k, d in defaults.items():
            if values is not None and k in values:
                lines.append(f"{indent}  {k} = {_fmt(values[k])}" + ("" if _fmt(values[k]) == _fmt(d) else f"  (default {_fmt(d)})"))
            else:
                lines.append(f"{indent}  {k} = {_fmt(d)}")
    return lines


def list_codecs(config_dirs) -> list[str]:
    lines = ["codecs (conf/codec/*.yaml; `bench codec=<name>`):"]
    for name, (path, cfg) in sorted(_configs("codec", config_dirs).items()):
        if isinstance(cfg, Exception):
            lines.append(f"  {name}: cannot read {path}: {cfg}")
            continue
        adapter = str(cfg.get("adapter"))
        lines.append(f"  {name}  (adapter {adapter}; points {_fmt(cfg.get('points'))}; {path})")
        if _first_comment(path):
            lines.append(f"    {_first_comment(path)}")
        try:
            cls = codecs.adapter_class(adapter)
        except BenchError as exc:
            lines.append(f"    adapter not loadable here: {exc}")
            continue
        params = cfg.get("params") or {}
        lines += _adapter_lines(cls, dict(params.items()) if hasattr(params, "items") else {})
    return lines


def list_datasets(config_dirs) -> list[str]:
    lines = ["datasets (conf/dataset/*.yaml; `bench dataset=<name>`):"]
    for name, (path, cfg) in sorted(_configs("dataset", config_dirs).items()):
        if isinstance(cfg, Exception):
            lines.append(f"  {name}: cannot read {path}: {cfg}")
            continue
        what = {"builtin": f"files {_fmt(cfg.get('files'))} from scikit-image",
                "manifest": f"manifest {cfg.get('manifest')}, root {cfg.get('root')}",
                "folder": f"root {cfg.get('root')}, glob {cfg.get('glob')!r}"}.get(str(cfg.get("kind")), "")
        lines.append(f"  {name}  (kind {cfg.get('kind')}: {what})")
        if _first_comment(path):
            lines.append(f"    {_first_comment(path)}")
    return lines


def list_metrics() -> list[str]:
    lines = ["metrics (`bench 'metrics=[psnr,ms_ssim,lpips]'`; default " + ",".join(metrics.DEFAULT) + "):"]
    for name in metrics.known():
        try:
            s = metrics.spec(name)
        except BenchError as exc:
            lines.append(f"  {name}: not loadable here: {exc}")
            continue
        lines.append(f"  {name}  {s.description}" + ("  [torch: metric_device]" if s.uses_torch else ""))
        for col, i in s.columns.items():
            rng = i.get("range") or [None, None]
            lines.append(f"    {col}: {'higher' if i['higher_is_better'] else 'lower'} is better; unit {i.get('unit') or '-'}; "
                         f"range {rng}; {i.get('kind')}; input {i.get('input_range')}; {i.get('colour_space')}"
                         + (f"; dB form {i['db']}" if i.get("db") else ""))
    return lines


def list_adapters() -> list[str]:
    lines = ["codec adapters (`adapter:` in a codec config; or 'package.module:Class' / 'path/to/file.py:Class'):"]
    plugins = codecs.registry.entry_points()
    for name, target in sorted(codecs.registry.known().items()):
        try:
            cls = codecs.adapter_class(name)
        except BenchError as exc:
            lines.append(f"  {name}  ({target}): not loadable here: {exc}")
            continue
        lines.append(f"  {name}  ({target}{', installed plugin' if name in plugins else ''}): {cls.describe()}")
        lines += _adapter_lines(cls)
    return lines


def list_models() -> list[str]:
    lines = ["learned models (`codec.params.arch`; your own: 'package.module:Class' with codec.params.model_args):"]
    lines += [f"  {a}  (compressai.models.{c})" for a, c in ARCHITECTURES.items()]
    lines += [f"  {n}  ({t}, installed plugin)" for n, t in sorted(models.entry_points().items())]
    return lines


@user_errors
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench ls", description="List what can be swept: codecs, datasets, metrics, "
                                 "adapters, models (default: all).")
    ap.add_argument("what", nargs="*", choices=[[], *WHAT], metavar="{" + ",".join(WHAT) + "}", default=[])
    ap.add_argument("--config-dir", action="append", default=[], help="your own config folder (holding codec/, dataset/)")
    args = ap.parse_args(argv)
    what = args.what or list(WHAT)
    for d in args.config_dir:
        if not Path(d).is_dir():
            raise BenchError(f"--config-dir {d}: not a folder")
    out = []
    for w in what:
        out += {"codecs": lambda: list_codecs(args.config_dir), "datasets": lambda: list_datasets(args.config_dir),
                "metrics": list_metrics, "adapters": list_adapters, "models": list_models}[w]() + [""]
    print("\n".join(out).rstrip())
    return 0
