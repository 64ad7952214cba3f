"""Learned models: CompressAI's architectures, the user's own model classes, zoo lambdas, and the
three ways weights are loaded (zoo, checkpoint files, a checksummed manifest).

Shared by the codec adapter (`bench.codecs.learned.adapter`) and the trainer (`bench.training`), so
a checkpoint the trainer writes is read by the same code as any user checkpoint.  Loading uses
`torch.load(weights_only=True)` only: a checkpoint is data, never code, and weights that are not
finite are refused before anything is coded with them.

`arch` is a CompressAI architecture name (below), or a model class of the user's: an installed
plugin's entry point in the `lic_bench.models` group, `package.module:Class` or
`path/to/file.py:Class`.  Such a class must be CompressAI-compatible (a `torch.nn.Module` with
`compress(x) -> {"strings", "shape"}` and `decompress(strings, shape) -> {"x_hat"}`, as
`compressai.models.CompressionModel`); it is built with `model_args` from the config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.core.errors import BenchError
from bench.core.plugins import Registry

# CompressAI architecture name -> (module path, class name); resolved lazily (torch is heavy).
ARCHITECTURES = {
    "bmshj2018-factorized": "FactorizedPrior",
    "bmshj2018-factorized-relu": "FactorizedPriorReLU",
    "bmshj2018-hyperprior": "ScaleHyperprior",
    "mbt2018-mean": "MeanScaleHyperprior",
    "mbt2018": "JointAutoregressiveHierarchicalPriors",
    "cheng2020-anchor": "Cheng2020Anchor",
    "cheng2020-attn": "Cheng2020Attention",
    # variable-rate models (Kamisli et al., DCC 2024): one model, a continuous quantisation step as the rate
    "bmshj2018-hyperprior-vbr": "ScaleHyperpriorVbr",
    "mbt2018-mean-vbr": "MeanScaleHyperpriorVbr",
    "mbt2018-vbr": "JointAutoregressiveHierarchicalPriorsVbr",
}
# Autoregressive context models: forward() is not the decoder's picture and decoding is serial.
AUTOREGRESSIVE = {"mbt2018", "cheng2020-anchor", "cheng2020-attn", "mbt2018-vbr"}
# Variable-rate architectures (codec adapter `compressai_vbr`); the first two code z with a
# rate-dependent entropy bottleneck (vr_entbttlnck=True, as CompressAI's zoo and eval_model build them).
VARIABLE_RATE = {"bmshj2018-hyperprior-vbr", "mbt2018-mean-vbr", "mbt2018-vbr"}
VBR_VARIABLE_BOTTLENECK = {"bmshj2018-hyperprior-vbr", "mbt2018-mean-vbr"}

# CompressAI zoo training lambdas per quality (CompressAI-Trainer / zoo docs).
ZOO_LAMBDAS = {
    "mse": {1: 0.0018, 2: 0.0035, 3: 0.0067, 4: 0.0130, 5: 0.0250, 6: 0.0483, 7: 0.0932, 8: 0.1800},
    "ms-ssim": {1: 2.40, 2: 4.58, 3: 8.73, 4: 16.64, 5: 31.73, 6: 60.50, 7: 115.37, 8: 220.00},
}


MODEL_ENTRY_POINT_GROUP = "lic_bench.models"


def zoo_qualities(arch: str) -> list[int]:
    if arch in VARIABLE_RATE:
        return []  # one model for every rate
    return list(range(1, 7)) if arch.startswith("cheng2020") else list(range(1, 9))


def is_variable_rate(arch: str) -> bool:
    return arch in VARIABLE_RATE


def _is_model_class(obj, target: str) -> None:
    import torch

    if not (isinstance(obj, type) and issubclass(obj, torch.nn.Module)):
        raise BenchError(f"learned model {target!r} is {obj!r}, not a torch.nn.Module subclass")
    missing = [m for m in ("compress", "decompress") if not callable(getattr(obj, m, None))]
    if missing:
        raise BenchError(f"learned model {target!r} has no {' or '.join(missing)}(): not CompressAI-compatible "
                         "(subclass compressai.models.CompressionModel)")


models = Registry("learned model", {}, MODEL_ENTRY_POINT_GROUP, _is_model_class)


def is_builtin(arch: str) -> bool:
    return arch in ARCHITECTURES


def architecture_class(arch: str):
    """The class of a CompressAI architecture name, or of the user's model (entry point or import path)."""
    if arch in ARCHITECTURES:
        import compressai.models as cmodels

        return getattr(cmodels, ARCHITECTURES[arch])
    if arch not in models.known() and ":" not in arch:
        from bench.core.plugins import suggestion

        known = list(ARCHITECTURES) + models.names()
        raise BenchError(f"unknown learned model {arch!r}{suggestion(arch, known)} known: {', '.join(known)}; "
                         "or give your model class as 'package.module:Class' / 'path/to/file.py:Class'")
    return models.load(arch)


def build(arch: str, N: int | None = None, M: int | None = None, quality: int | None = None, model_args: dict | None = None):
    """An untrained model.  A CompressAI architecture: N/M from the arguments, else the zoo's for
    `quality` (default 1).  The user's model class: built with `model_args` (its constructor's keywords)."""
    cls = architecture_class(arch)
    if not is_builtin(arch):
        try:
            return cls(**dict(model_args or {}))
        except TypeError as exc:
            raise BenchError(f"learned model {arch!r}: cannot build it with model_args={dict(model_args or {})}: {exc}") from None
    if model_args:
        raise BenchError(f"model_args are for your own model classes; {arch} takes N and M")
    if arch in VARIABLE_RATE:
        from compressai.zoo.image_vbr import cfgs as vbr_cfgs

        N, M = (N, M) if N is not None else vbr_cfgs[arch]
        if arch in VBR_VARIABLE_BOTTLENECK:
            return cls(N=int(N), M=int(M), vr_entbttlnck=True)
        return cls(N=int(N), M=int(M))
    if N is None:
        from compressai.zoo.image import cfgs

        key = arch if arch in cfgs else arch.replace("-relu", "_relu")
        cfg = cfgs.get(key) or cfgs.get("bmshj2018-factorized")
        N, M = (cfg[quality or 1] + (None,))[:2]
    if arch.startswith("cheng2020"):
        return cls(N=int(N))
    return cls(N=int(N), M=int(M))


def zoo_file(arch: str, metric: str, quality: int | None) -> tuple[str, Path]:
    """(file name, directory) where torch hub looks for a zoo checkpoint (variable-rate models: one
    file for every rate, `quality` ignored)."""
    import torch.hub

    if arch in VARIABLE_RATE:
        from compressai.zoo.image_vbr import model_urls as vbr_urls

        url = vbr_urls.get(arch, {}).get(metric)
        if url is None:
            raise BenchError(f"CompressAI zoo has no {arch} weights for metric {metric!r} "
                             f"(it has: {', '.join(vbr_urls.get(arch, {})) or 'none'})")
        return url.rsplit("/", 1)[1], Path(torch.hub.get_dir()) / "checkpoints"
    from compressai.zoo.image import model_urls

    key = arch if arch in model_urls else arch.replace("-relu", "_relu")
    try:
        url = model_urls[key][metric][int(quality)]
    except (KeyError, TypeError):
        raise BenchError(f"CompressAI zoo has no {arch} weights for metric {metric!r} quality {quality}") from None
    return url.rsplit("/", 1)[1], Path(torch.hub.get_dir()) / "checkpoints"


def load_zoo(arch: str, metric: str, quality: int | None):
    """CompressAI's own loader (torch hub cache, download when online); offline one clear error.
    Variable-rate models have one checkpoint for every rate (`quality` is not used)."""
    from compressai.zoo import image_models

    name, directory = zoo_file(arch, metric, quality)
    try:
        model = image_models[arch](quality=int(quality or 0), metric=metric, pretrained=True, progress=False)
        check_finite(model.state_dict(), directory / name)
        return model
    except BenchError:
        raise
    except Exception as exc:  # URLError, HTTPError, socket errors: all mean "not cached and not downloadable"
        if (directory / name).is_file():
            raise BenchError(f"cannot load zoo weights {directory / name}: {exc}") from None
        raise BenchError(
            f"zoo weights {name} are not cached and cannot be downloaded ({type(exc).__name__}); "
            f"place the file in {directory} (TORCH_HOME={os.environ.get('TORCH_HOME', '~/.cache/torch')})"
        ) from None


def _unwrap(obj: Any) -> dict:
    """state_dict from a plain CompressAI state_dict, a CompressAI-Trainer checkpoint, or a
    {"state_dict": ...} / {"net": ...} / {"model": ...} wrapper; DataParallel 'module.' stripped."""
    for key in ("state_dict", "net", "model", "network"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise BenchError("checkpoint holds no state_dict")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in obj.items()}


def check_finite(state: dict, path) -> None:
    """Refuse weights with NaN or infinity: they hang the entropy coder (encoder side) or decode garbage
    that still passes the decode check (decoder side)."""
    bad = []
    for k, v in state.items():
        if hasattr(v, "is_floating_point") and v.is_floating_point():
            import torch

            if not bool(torch.isfinite(v).all()):
                bad.append(k)
    if bad:
        raise BenchError(f"checkpoint {path}: {len(bad)} tensor(s) hold NaN or infinite values ({', '.join(bad[:3])}"
                         + (", ..." if len(bad) > 3 else "") + "); refusing to code with it")


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """(state_dict, metadata) of a checkpoint file, loaded with weights_only=True."""
    import pickle

    import torch

    p = Path(path)
    if not p.is_file():
        raise BenchError(f"checkpoint not found: {p}")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        # torch words this differently across versions; the line naming a GLOBAL is the refusal.
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = next((line for line in lines if "GLOBAL" in line or "Unsupported global" in line), None)
        if reason:
            raise BenchError(f"refusing checkpoint {p}: it asks to run code ({reason}); only weights_only=True loading is allowed") from None
        # the line after "WeightsUnpickler error:" says what was wrong (e.g. "Unsupported operand 0")
        idx = next((i for i, line in enumerate(lines) if line.endswith("WeightsUnpickler error:")), None)
        detail = lines[idx + 1] if idx is not None and idx + 1 < len(lines) else type(exc).__name__
        detail = f"not a PyTorch checkpoint or damaged ({detail})"
        raise BenchError(f"cannot read checkpoint {p}: {detail}") from None
    except Exception as exc:
        raise BenchError(f"cannot read checkpoint {p}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    meta = {k: v for k, v in obj.items() if k not in ("state_dict", "net", "model", "network", "optimizer", "aux_optimizer")} if isinstance(obj, dict) and any(
        k in obj for k in ("state_dict", "net", "model", "network")) else {}
    return _unwrap(obj), meta


def load_checkpoint(path: str | os.PathLike, arch: str, N: int | None = None, M: int | None = None,
                    model_args: dict | None = None):
    """A model of `arch` with the checkpoint's weights; CDF tables rebuilt when absent."""
    state, meta = read_checkpoint(path)
    check_finite(state, path)
    if is_builtin(arch):
        N = N or meta.get("N") or (state["g_a.0.weight"].shape[0] if "g_a.0.weight" in state else None)
        if M is None:
            M = meta.get("M")
            if M is None:
                w = [v for k, v in state.items() if k.startswith("g_a.") and k.endswith(".weight") and v.ndim == 4]
                M = w[-1].shape[0] if w else None
    model = build(arch, N, M, model_args=model_args)
    # Variable-rate models: their z tables are rebuilt for every rate anyway (update(scale=...)), and
    # CompressAI's CDF-resizing load does not know the variable entropy bottleneck: weights only.
    has_cdf = arch not in VARIABLE_RATE and any(k.endswith("_quantized_cdf") and v.numel() > 0 for k, v in state.items())
    if arch in VARIABLE_RATE:
        state = {k: v for k, v in state.items() if k != "QuantOffset"}  # a training leftover CompressAI drops too
    try:
        if has_cdf:
            model.load_state_dict(state)  # CompressAI's override resizes the CDF buffers
        else:
            # Weights only (e.g. a training checkpoint saved before update()): plain nn.Module loading,
            # then the CDF tables are built from the weights.
            import torch

            cdf = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")
            weights = {k: v for k, v in state.items() if not k.endswith(cdf)}
            missing, unexpected = torch.nn.Module.load_state_dict(model, weights, strict=False)
            bad = [k for k in missing if not k.endswith(cdf)] + list(unexpected)
            if bad:
                raise RuntimeError(f"missing or unexpected keys: {bad[:5]}")
    except Exception as exc:
        shape = f"(N={N}, M={M})" if is_builtin(arch) else f"(**{dict(model_args or {})})"
        raise BenchError(f"checkpoint {path} does not fit {arch}{shape}: {str(exc).splitlines()[0]}") from None
    if not has_cdf and callable(getattr(model, "update", None)):
        model.update(force=True)
    return model.eval(), meta


def init_model(arch: str, seed: int, N: int | None = None, M: int | None = None, quality: int | None = None,
               model_args: dict | None = None):
    """A model with locally initialised (untrained) weights, the same in every process: the module's own
    initialisation under `torch.manual_seed(seed)` on the CPU (the global RNG is left as it was), then
    its CDF tables built from those weights.  For complexity, timing and portability without a download;
    its rate-distortion points mean nothing."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = build(arch, N, M, quality=quality, model_args=model_args)
    if callable(getattr(model, "update", None)):
        model.update(force=True)
    return model.eval()
